//! Who may push modules: the push key and the targets the system manifest grants.
//!
//! The push channel replaces running modules, so it is a capability, not a
//! service that is always on. Two things grant it:
//! - the system manifest's `push TARGET...` line (from `[push] targets` in
//!   `modules/system.toml`): the modules an upload may replace or load, `*`
//!   for any name; without the line the channel is off;
//! - the push key: 32 random bytes that `cargo cella build` makes once per
//!   build directory (`target/cella/push.key`) and packs into the boot
//!   archive as `push.key`. Only a holder of the key can sign an upload.
//!
//! An upload is signed with HMAC-SHA-256 over its header and bytes, and the
//! header names a nonce the kernel issued for this upload alone: a wrong key,
//! an altered byte and a replayed upload all fail the check.
#![forbid(unsafe_code)]

use alloc::string::String;
use alloc::vec::Vec;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes in a push key.
pub const KEY_BYTES: usize = 32;
/// Bytes in a nonce.
pub const NONCE_BYTES: usize = 16;
/// Bytes in a signature (HMAC-SHA-256).
pub const SIGNATURE_BYTES: usize = 32;
/// The boot-archive entry holding the key, as hex digits.
pub const KEY_ARCHIVE_ENTRY: &str = "push.key";

/// A push key.
#[derive(Clone, PartialEq, Eq)]
pub struct PushKey([u8; KEY_BYTES]);

impl core::fmt::Debug for PushKey {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str("PushKey(..)")
    }
}

impl PushKey {
    /// A key from its bytes.
    pub fn new(bytes: [u8; KEY_BYTES]) -> Self {
        Self(bytes)
    }

    /// Reads a key written as 64 hex digits (surrounding white space allowed).
    ///
    /// # Errors
    /// A message if the text is not exactly 64 hex digits.
    pub fn from_hex(text: &[u8]) -> Result<Self, String> {
        let text = core::str::from_utf8(text)
            .map_err(|_| String::from("the push key is not text"))?
            .trim();
        let bytes = decode_hex(text)
            .filter(|bytes| bytes.len() == KEY_BYTES)
            .ok_or_else(|| String::from("the push key is not 64 hex digits"))?;
        let mut key = [0; KEY_BYTES];
        key.copy_from_slice(&bytes);
        Ok(Self(key))
    }

    /// The key as 64 hex digits.
    pub fn to_hex(&self) -> String {
        encode_hex(&self.0)
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length, so this cannot fail.
        match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts a 32-byte key"),
        }
    }

    /// The signature of an upload: HMAC-SHA-256 over its signed header line
    /// (see [`signed_line`]) and its bytes.
    pub fn sign(&self, signed_line: &str, bytes: &[u8]) -> [u8; SIGNATURE_BYTES] {
        let mut mac = self.mac();
        mac.update(signed_line.as_bytes());
        mac.update(bytes);
        mac.finalize().into_bytes().into()
    }

    /// Whether `signature` is the signature of the upload, compared in
    /// constant time.
    pub fn verify(&self, signed_line: &str, bytes: &[u8], signature: &[u8]) -> bool {
        let mut mac = self.mac();
        mac.update(signed_line.as_bytes());
        mac.update(bytes);
        mac.verify_slice(signature).is_ok()
    }

    /// The nonce numbered `counter`, mixed with `entropy` (the kernel gives
    /// the time stamp counter at boot and now). Nonces only need to differ,
    /// never repeat for one key; keyed hashing makes them unpredictable too.
    pub fn nonce(&self, counter: u64, entropy: u64) -> [u8; NONCE_BYTES] {
        let mut mac = self.mac();
        mac.update(b"cella push nonce");
        mac.update(&counter.to_le_bytes());
        mac.update(&entropy.to_le_bytes());
        let digest: [u8; SIGNATURE_BYTES] = mac.finalize().into_bytes().into();
        let mut nonce = [0; NONCE_BYTES];
        nonce.copy_from_slice(&digest[..NONCE_BYTES]);
        nonce
    }
}

/// The part of the header line the signature covers: everything but the
/// signature, ending in a newline.
pub fn signed_line(target: &str, size: usize, persist: bool, nonce_hex: &str) -> String {
    let keep = if persist { " persist" } else { "" };
    alloc::format!(
        "{} 2 {target} {size}{keep} {nonce_hex}\n",
        crate::push_protocol::MAGIC
    )
}

/// What the system manifest grants the push channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushGrant {
    /// Module names an upload may target; `*` is any name.
    pub targets: Vec<String>,
}

impl PushGrant {
    /// Whether an upload may target `name`.
    pub fn allows(&self, name: &str) -> bool {
        self.targets
            .iter()
            .any(|target| target == "*" || target == name)
    }
}

/// Lower-case hex digits of `bytes`.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// The bytes of an even number of hex digits; `None` for anything else.
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_test_case_2() {
        // RFC 4231 case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let digest: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(
            encode_hex(&digest),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn keys_round_trip_through_hex_and_bad_text_is_refused() {
        let key = PushKey::new([0xa5; KEY_BYTES]);
        assert_eq!(PushKey::from_hex(key.to_hex().as_bytes()), Ok(key.clone()));
        let with_newline = alloc::format!("{}\n", key.to_hex());
        assert_eq!(PushKey::from_hex(with_newline.as_bytes()), Ok(key));
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(62), &"a".repeat(66)] {
            assert!(PushKey::from_hex(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert_eq!(decode_hex("00ff10"), Some(alloc::vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
    }

    #[test]
    fn a_signature_holds_only_for_its_key_line_and_bytes() {
        let key = PushKey::new([1; KEY_BYTES]);
        let line = signed_line("uart16550", 3, false, "00112233445566778899aabbccddeeff");
        let signature = key.sign(&line, b"abc");
        assert!(key.verify(&line, b"abc", &signature));
        assert!(!key.verify(&line, b"abd", &signature));
        assert!(!key.verify(&line.replace("uart16550", "pci"), b"abc", &signature));
        assert!(!PushKey::new([2; KEY_BYTES]).verify(&line, b"abc", &signature));
        assert!(!key.verify(&line, b"abc", &signature[..31]));
    }

    #[test]
    fn nonces_differ_by_counter_and_entropy() {
        let key = PushKey::new([3; KEY_BYTES]);
        assert_ne!(key.nonce(1, 7), key.nonce(2, 7));
        assert_ne!(key.nonce(1, 7), key.nonce(1, 8));
        assert_eq!(key.nonce(1, 7), key.nonce(1, 7));
    }

    #[test]
    fn a_grant_allows_its_targets_or_everything_with_a_star() {
        let some = PushGrant {
            targets: alloc::vec!["uart16550".into()],
        };
        assert!(some.allows("uart16550") && !some.allows("pci"));
        let all = PushGrant {
            targets: alloc::vec!["*".into()],
        };
        assert!(all.allows("anything"));
    }
}
