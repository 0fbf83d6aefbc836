//! Criterion: encode and decode of the 10-key session in each format.

use codec::{CODECS, sample};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn codecs(c: &mut Criterion) {
    let data = sample();
    for (name, encode, decode) in CODECS {
        let Ok(bytes) = encode(&data) else {
            panic!("{name} cannot encode the sample");
        };
        c.bench_function(&format!("encode/{name}"), |b| {
            b.iter(|| encode(black_box(&data)))
        });
        c.bench_function(&format!("decode/{name}"), |b| {
            b.iter(|| decode(black_box(&bytes)))
        });
    }
}

criterion_group!(benches, codecs);
criterion_main!(benches);
