//! Server side of SASL SCRAM (RFC 5802) with SHA-512, SHA-256 and SHA-1.
//!
//! The server keeps only what a real one keeps: salt, iteration count, StoredKey and
//! ServerKey. The client's proof is checked by recovering ClientKey from it and comparing
//! H(ClientKey) with StoredKey, so a wrong password is refused exactly as Couchbase refuses it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// A SCRAM mechanism the server can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `SCRAM-SHA512`, the one the SDK uses.
    ScramSha512,
    /// `SCRAM-SHA256`.
    ScramSha256,
    /// `SCRAM-SHA1`.
    ScramSha1,
}

impl Mechanism {
    /// Every mechanism, strongest first (the order `SASL_LIST_MECHS` reports).
    pub const ALL: [Mechanism; 3] = [
        Mechanism::ScramSha512,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
    ];

    /// The SASL name.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::ScramSha512 => "SCRAM-SHA512",
            Mechanism::ScramSha256 => "SCRAM-SHA256",
            Mechanism::ScramSha1 => "SCRAM-SHA1",
        }
    }

    /// The mechanism with this SASL name.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name().as_bytes() == name)
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::ScramSha512 => Sha512::digest(data).to_vec(),
            Mechanism::ScramSha256 => Sha256::digest(data).to_vec(),
            Mechanism::ScramSha1 => Sha1::digest(data).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
            // HMAC takes keys of any length, so this never falls back.
            match <M as Mac>::new_from_slice(key) {
                Ok(mut mac) => {
                    mac.update(data);
                    mac.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }
        match self {
            Mechanism::ScramSha512 => run::<Hmac<Sha512>>(key, data),
            Mechanism::ScramSha256 => run::<Hmac<Sha256>>(key, data),
            Mechanism::ScramSha1 => run::<Hmac<Sha1>>(key, data),
        }
    }

    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut out = vec![0u8; self.hash(b"").len()];
        let derived = match self {
            Mechanism::ScramSha512 => {
                pbkdf2::pbkdf2::<Hmac<Sha512>>(password, salt, iterations, &mut out)
            }
            Mechanism::ScramSha256 => {
                pbkdf2::pbkdf2::<Hmac<Sha256>>(password, salt, iterations, &mut out)
            }
            Mechanism::ScramSha1 => {
                pbkdf2::pbkdf2::<Hmac<Sha1>>(password, salt, iterations, &mut out)
            }
        };
        // HMAC accepts any key length; an error here would only leave a key nobody can match.
        if derived.is_err() {
            out.fill(0);
        }
        out
    }
}

/// What the server stores for one user and mechanism.
#[derive(Debug, Clone)]
pub(crate) struct Secret {
    mechanism: Mechanism,
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl Secret {
    /// Derives the stored keys from a password (done once, when the server starts).
    pub(crate) fn derive(
        mechanism: Mechanism,
        password: &str,
        salt: Vec<u8>,
        iterations: u32,
    ) -> Self {
        let salted = mechanism.salted_password(password.as_bytes(), &salt, iterations);
        let client_key = mechanism.hmac(&salted, b"Client Key");
        Secret {
            mechanism,
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(&salted, b"Server Key"),
            salt,
            iterations,
        }
    }
}

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthFailed(pub(crate) &'static str);

/// One SCRAM exchange, between the client-first and client-final messages.
#[derive(Debug, Clone)]
pub(crate) struct Exchange {
    secret: Secret,
    user_ok: bool,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// The value of attribute `name` in a SCRAM message (`n=...,r=...`).
fn attribute(message: &str, name: char) -> Option<&str> {
    message
        .split(',')
        .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
}

/// Decodes a SASL name (`=2C` is a comma, `=3D` an equals sign).
fn decode_saslname(name: &str) -> String {
    name.replace("=2C", ",").replace("=3D", "=")
}

impl Exchange {
    /// Handles the client-first message; returns the exchange and the server-first message.
    ///
    /// An unknown user gets a normal-looking reply and fails at the proof, as on a real server,
    /// so the reply does not tell which users exist.
    pub(crate) fn start(
        secret: &Secret,
        username: &str,
        client_first: &[u8],
        server_nonce: &str,
    ) -> Result<(Exchange, String), AuthFailed> {
        let client_first = std::str::from_utf8(client_first)
            .map_err(|_| AuthFailed("client-first is not UTF-8"))?;
        // Channel binding is not supported: only "n" (and "y", client supports but thinks we don't).
        let bare_start = match client_first.as_bytes().first() {
            Some(b'n' | b'y') => client_first
                .match_indices(',')
                .nth(1)
                .map(|(i, _)| i + 1)
                .ok_or(AuthFailed("client-first has no GS2 header"))?,
            _ => return Err(AuthFailed("channel binding is not supported")),
        };
        let (gs2_header, bare) = client_first.split_at(bare_start);
        let user = attribute(bare, 'n').ok_or(AuthFailed("client-first has no user"))?;
        let client_nonce = attribute(bare, 'r').ok_or(AuthFailed("client-first has no nonce"))?;
        if client_nonce.is_empty() {
            return Err(AuthFailed("empty client nonce"));
        }
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&secret.salt),
            secret.iterations
        );
        Ok((
            Exchange {
                secret: secret.clone(),
                user_ok: decode_saslname(user) == username,
                gs2_header: gs2_header.to_owned(),
                client_first_bare: bare.to_owned(),
                server_first: server_first.clone(),
                nonce,
            },
            server_first,
        ))
    }

    /// Checks the client-final message; returns the server-final message (`v=...`).
    pub(crate) fn finish(&self, client_final: &[u8]) -> Result<String, AuthFailed> {
        let client_final = std::str::from_utf8(client_final)
            .map_err(|_| AuthFailed("client-final is not UTF-8"))?;
        let (without_proof, proof) = client_final
            .rsplit_once(",p=")
            .ok_or(AuthFailed("client-final has no proof"))?;
        if attribute(without_proof, 'c') != Some(B64.encode(&self.gs2_header).as_str()) {
            return Err(AuthFailed("channel binding data does not match"));
        }
        if attribute(without_proof, 'r') != Some(self.nonce.as_str()) {
            return Err(AuthFailed("nonce does not match"));
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| AuthFailed("proof is not base64"))?;
        let m = self.secret.mechanism;
        let auth_message = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        let client_signature = m.hmac(&self.secret.stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return Err(AuthFailed("proof has the wrong length"));
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        let matches = m
            .hash(&client_key)
            .iter()
            .zip(&self.secret.stored_key)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        if !(matches && self.user_ok) {
            return Err(AuthFailed("wrong username or password"));
        }
        let server_signature = m.hmac(&self.secret.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)))
    }
}

/// A minimal SCRAM client, for tests of mechanisms the SDK cannot be made to use.
#[doc(hidden)]
pub mod client {
    use super::*;

    /// Computes the client-final message for a server-first message.
    pub fn client_final(
        mechanism: Mechanism,
        password: &str,
        client_first_bare: &str,
        server_first: &str,
    ) -> Option<String> {
        let nonce = attribute(server_first, 'r')?;
        let salt = B64.decode(attribute(server_first, 's')?).ok()?;
        let iterations: u32 = attribute(server_first, 'i')?.parse().ok()?;
        let salted = mechanism.salted_password(password.as_bytes(), &salt, iterations);
        let client_key = mechanism.hmac(&salted, b"Client Key");
        let stored_key = mechanism.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = mechanism.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        Some(format!("{without_proof},p={}", B64.encode(proof)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_exchange(m: Mechanism, salt: &str, cnonce: &str, snonce: &str) -> (Exchange, String) {
        let salt = B64.decode(salt).expect("salt");
        let secret = Secret::derive(m, "pencil", salt, 4096);
        Exchange::start(
            &secret,
            "user",
            format!("n,,n=user,r={cnonce}").as_bytes(),
            snonce,
        )
        .expect("client-first accepted")
    }

    /// The test vector of RFC 5802, section 5.
    #[test]
    fn rfc5802_sha1_vector() {
        let (ex, server_first) = rfc_exchange(
            Mechanism::ScramSha1,
            "QSXCR+Q6sek8bf92",
            "fyko+d2lbbFgONRv9qkxdawL",
            "3rfcNHYJY1ZVvWVs7j",
        );
        assert_eq!(
            server_first,
            "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
        );
        let server_final = ex.finish(
            b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
        );
        assert_eq!(
            server_final.as_deref(),
            Ok("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
        );
        // One flipped bit in the proof is refused.
        assert!(
            ex.finish(
                b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Tt="
            )
            .is_err()
        );
    }

    /// The test vector of RFC 7677, section 3.
    #[test]
    fn rfc7677_sha256_vector() {
        let (ex, server_first) = rfc_exchange(
            Mechanism::ScramSha256,
            "W22ZaJ0SNY7soEsUEjb6gQ==",
            "rOprNGfwEbeRWgbNEkqO",
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        );
        assert_eq!(
            server_first,
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let server_final = ex.finish(
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        );
        assert_eq!(
            server_final.as_deref(),
            Ok("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        );
    }

    #[test]
    fn every_mechanism_round_trips_and_refuses_wrong_passwords() {
        for m in Mechanism::ALL {
            let secret = Secret::derive(m, "s3cret", b"salty".to_vec(), 16);
            for (password, ok) in [("s3cret", true), ("wrong", false)] {
                let bare = "n=alice,r=abc";
                let (ex, server_first) =
                    Exchange::start(&secret, "alice", format!("n,,{bare}").as_bytes(), "xyz")
                        .expect("client-first");
                let last = client::client_final(m, password, bare, &server_first).expect("final");
                assert_eq!(ex.finish(last.as_bytes()).is_ok(), ok, "{m:?} {password}");
            }
            // Right password, wrong user.
            let (ex, server_first) =
                Exchange::start(&secret, "alice", b"n,,n=bob,r=abc", "xyz").expect("client-first");
            let last =
                client::client_final(m, "s3cret", "n=bob,r=abc", &server_first).expect("final");
            assert!(ex.finish(last.as_bytes()).is_err());
        }
    }

    #[test]
    fn malformed_messages_are_refused() {
        let secret = Secret::derive(Mechanism::ScramSha512, "p", b"s".to_vec(), 1);
        for first in [
            &b"p=tls-unique,,n=u,r=a"[..],
            b"n,,n=u",
            b"\xff",
            b"",
            b"n,,n=u,r=",
        ] {
            assert!(
                Exchange::start(&secret, "u", first, "x").is_err(),
                "{first:?}"
            );
        }
        let (ex, _) = Exchange::start(&secret, "u", b"n,,n=u,r=a", "x").expect("client-first");
        for last in [
            &b"c=biws,r=ax"[..],
            b"c=biws,r=ay,p=AAAA",
            b"c=eSws,r=ax,p=AAAA",
            b"c=biws,r=ax,p=!!",
        ] {
            assert!(ex.finish(last).is_err(), "{last:?}");
        }
    }
}
