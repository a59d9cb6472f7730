//! Random tokens and the hashes they are stored as.
//!
//! Invite codes, bearer tokens, webhook URLs and CSRF tokens are made by [`random_token`];
//! whatever grants access is stored only as its [`hash_secret`], so a copy of the database
//! lets nobody in. Nothing here knows what a token is for.

use rand::RngCore;

/// A random 32-byte token, hex encoded: session CSRF tokens, invite codes, idempotency keys.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// The SHA-256 of a secret, hex encoded: how invite codes and tokens are stored.
pub fn hash_secret(secret: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_64_hex_digits_and_differ() {
        let (a, b) = (super::random_token(), super::random_token());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn secrets_hash_to_their_sha256() {
        assert_eq!(
            super::hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
