//! Prints each format's encoded size (`size_<format> <bytes>`) and checks it round-trips.

use anyhow::{Result, bail};
use codec::{CODECS, sample};

fn main() -> Result<()> {
    let data = sample();
    for (name, encode, decode) in CODECS {
        let bytes = encode(&data)?;
        if decode(&bytes)? != data {
            bail!("{name} does not round-trip");
        }
        println!("size_{name} {}", bytes.len());
    }
    Ok(())
}
