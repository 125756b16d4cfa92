//! TLS cipher suites, key schedules and record protection, with RustCrypto primitives
//! (aes-gcm, chacha20poly1305, aes + cbc, hmac, hkdf, sha1, sha2): nothing here is a cipher
//! or a hash of our own, only how TLS puts them together.
//!
//! - TLS 1.3 (RFC 8446 §5.2, §7.1-7.3): key and IV by HKDF-Expand-Label from a traffic secret,
//!   the nonce the IV XOR the sequence number, the record header as additional data, the inner
//!   content type after the padding; the next generation of a secret at each KeyUpdate.
//! - TLS 1.2 (RFC 5246 §5, §6.2-6.3): the key block by the PRF (P_SHA256 or P_SHA384) from the
//!   master secret; AES-GCM with a 4-byte salt and an 8-byte explicit nonce (RFC 5288);
//!   ChaCha20-Poly1305 with no explicit nonce (RFC 7905); AES-CBC with HMAC-SHA1/256/384,
//!   MAC-then-encrypt or encrypt-then-MAC (RFC 7366) as negotiated.
//!
//! TLS 1.0/1.1 (another PRF, an implicit CBC IV in 1.0) and other ciphers (CCM, ARIA,
//! Camellia, 3DES, NULL) are not supported: their connections are counted, not decrypted.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::Hmac;
use sha1::Sha1;
use sha2::{Sha256, Sha384};

/// The hash of a suite's PRF (TLS 1.2) or HKDF (TLS 1.3).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mac {
    Sha1,
    Sha256,
    Sha384,
}

impl Mac {
    fn len(self) -> usize {
        match self {
            Mac::Sha1 => 20,
            Mac::Sha256 => 32,
            Mac::Sha384 => 48,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Bulk {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    /// AES-CBC with the key length in bytes (16 or 32) and its HMAC.
    AesCbc(usize, Mac),
}

/// What a cipher suite needs to be decrypted.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Suite {
    pub id: u16,
    pub bulk: Bulk,
    pub hash: Hash,
    pub tls13: bool,
}

/// The suites decrypted, by their IANA number; `None` for any other.
pub fn suite(id: u16) -> Option<Suite> {
    use Bulk::*;
    use Hash::*;
    let (bulk, hash, tls13) = match id {
        0x1301 => (Aes128Gcm, Sha256, true),
        0x1302 => (Aes256Gcm, Sha384, true),
        0x1303 => (ChaCha20Poly1305, Sha256, true),
        // AES-GCM (RFC 5288, 5289, 5487): RSA, DHE, ECDHE, PSK key exchange.
        0x009C | 0x009E | 0xC02B | 0xC02F | 0x00A8 | 0x00AA | 0x00AC => (Aes128Gcm, Sha256, false),
        0x009D | 0x009F | 0xC02C | 0xC030 | 0x00A9 | 0x00AB | 0x00AD => (Aes256Gcm, Sha384, false),
        // ChaCha20-Poly1305 (RFC 7905).
        0xCCA8..=0xCCAE => (ChaCha20Poly1305, Sha256, false),
        // AES-CBC with HMAC-SHA1 (RFC 5246, 4492): 0x002F is RFC 3261's mandatory suite.
        0x002F | 0x0033 | 0xC009 | 0xC013 | 0x008C => (AesCbc(16, Mac::Sha1), Sha256, false),
        0x0035 | 0x0039 | 0xC00A | 0xC014 | 0x008D => (AesCbc(32, Mac::Sha1), Sha256, false),
        0x003C | 0x0067 | 0xC023 | 0xC027 | 0x00AE => (AesCbc(16, Mac::Sha256), Sha256, false),
        0x003D | 0x006B => (AesCbc(32, Mac::Sha256), Sha256, false),
        0xC024 | 0xC028 | 0x00AF => (AesCbc(32, Mac::Sha384), Sha384, false),
        _ => return None,
    };
    Some(Suite {
        id,
        bulk,
        hash,
        tls13,
    })
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(hash: Hash, secret: &[u8], label: &str, out: &mut [u8]) -> bool {
    let full = [b"tls13 ", label.as_bytes()].concat();
    let mut info = Vec::with_capacity(4 + full.len());
    info.extend_from_slice(&(out.len() as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend_from_slice(&full);
    info.push(0);
    match hash {
        Hash::Sha256 => hkdf::Hkdf::<Sha256>::from_prk(secret)
            .ok()
            .and_then(|h| h.expand(&info, out).ok())
            .is_some(),
        Hash::Sha384 => hkdf::Hkdf::<Sha384>::from_prk(secret)
            .ok()
            .and_then(|h| h.expand(&info, out).ok())
            .is_some(),
    }
}

/// The next generation of a TLS 1.3 application traffic secret (RFC 8446 §7.2).
pub fn next_secret(hash: Hash, secret: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; hash.output_len()];
    expand_label(hash, secret, "traffic upd", &mut out).then_some(out)
}

/// P_hash of the TLS 1.2 PRF (RFC 5246 §5), filling `out`.
fn p_hash<M: hmac::Mac + hmac::digest::KeyInit + Clone>(
    secret: &[u8],
    seed: &[u8],
    out: &mut [u8],
) {
    let Ok(base) = <M as hmac::digest::KeyInit>::new_from_slice(secret) else {
        return;
    };
    let mut a = {
        let mut m = base.clone();
        m.update(seed);
        m.finalize().into_bytes().to_vec()
    };
    let mut at = 0;
    while at < out.len() {
        let mut m = base.clone();
        m.update(&a);
        m.update(seed);
        let block = m.finalize().into_bytes();
        let n = block.len().min(out.len() - at);
        out[at..at + n].copy_from_slice(&block[..n]);
        at += n;
        let mut m = base.clone();
        m.update(&a);
        a = m.finalize().into_bytes().to_vec();
    }
}

/// The TLS 1.2 PRF: `PRF(secret, label, seed)` with the suite's hash.
pub fn prf(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let s = [label, seed].concat();
    match hash {
        Hash::Sha256 => p_hash::<Hmac<Sha256>>(secret, &s, out),
        Hash::Sha384 => p_hash::<Hmac<Sha384>>(secret, &s, out),
    }
}

enum Aead {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

enum Engine {
    Aead(Aead),
    Cbc {
        key: Vec<u8>,
        mac: Mac,
        mac_key: Vec<u8>,
        etm: bool,
    },
}

/// Why a record did not open.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Too short for its cipher, or bad padding or MAC or tag: wrong keys, or not this record.
    Auth,
}

/// The protection of one direction of a connection: keys and the record sequence number.
pub struct RecordCipher {
    engine: Engine,
    /// The TLS 1.3 IV, the TLS 1.2 ChaCha20 IV, or the 4-byte GCM salt (the rest zero).
    iv: [u8; 12],
    pub seq: u64,
    tls13: bool,
    gcm12: bool,
    /// TLS 1.3: the traffic secret these keys came from (for the next KeyUpdate).
    pub secret: Vec<u8>,
    pub hash: Hash,
}

fn aead(bulk: Bulk, key: &[u8]) -> Option<Aead> {
    Some(match bulk {
        Bulk::Aes128Gcm => Aead::Aes128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
        Bulk::Aes256Gcm => Aead::Aes256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
        Bulk::ChaCha20Poly1305 => {
            Aead::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?))
        }
        Bulk::AesCbc(..) => return None,
    })
}

fn key_len(bulk: Bulk) -> usize {
    match bulk {
        Bulk::Aes128Gcm => 16,
        Bulk::Aes256Gcm | Bulk::ChaCha20Poly1305 => 32,
        Bulk::AesCbc(k, _) => k,
    }
}

fn mac_ok(mac: Mac, key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    fn run<M: hmac::Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
        let Ok(mut m) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
            return false;
        };
        for p in parts {
            m.update(p);
        }
        m.verify_slice(tag).is_ok()
    }
    match mac {
        Mac::Sha1 => run::<Hmac<Sha1>>(key, parts, tag),
        Mac::Sha256 => run::<Hmac<Sha256>>(key, parts, tag),
        Mac::Sha384 => run::<Hmac<Sha384>>(key, parts, tag),
    }
}

/// Decrypts AES-CBC in place (no padding removed); false on a key or length error.
fn cbc_decrypt(key: &[u8], iv: &[u8], buf: &mut [u8]) -> bool {
    use cbc::cipher::block_padding::NoPadding;
    match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()
            .and_then(|d| d.decrypt_padded_mut::<NoPadding>(buf).ok())
            .is_some(),
        32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()
            .and_then(|d| d.decrypt_padded_mut::<NoPadding>(buf).ok())
            .is_some(),
        _ => false,
    }
}

/// The length of `b` without its TLS CBC padding (`pad` bytes of value `pad`, then `pad`).
fn unpad(b: &[u8]) -> Option<usize> {
    let pad = usize::from(*b.last()?);
    if pad + 1 > b.len()
        || b[b.len() - 1 - pad..]
            .iter()
            .any(|x| usize::from(*x) != pad)
    {
        return None;
    }
    Some(b.len() - 1 - pad)
}

impl RecordCipher {
    /// TLS 1.3 protection from a traffic secret.
    pub fn tls13(suite: Suite, secret: &[u8]) -> Option<RecordCipher> {
        let mut key = vec![0u8; key_len(suite.bulk)];
        let mut iv = [0u8; 12];
        if !expand_label(suite.hash, secret, "key", &mut key)
            || !expand_label(suite.hash, secret, "iv", &mut iv)
        {
            return None;
        }
        Some(RecordCipher {
            engine: Engine::Aead(aead(suite.bulk, &key)?),
            iv,
            seq: 0,
            tls13: true,
            gcm12: false,
            secret: secret.to_vec(),
            hash: suite.hash,
        })
    }

    /// TLS 1.2 protection of the client's (`client`) or the server's direction, from the
    /// master secret and the two hello randoms; `etm`: encrypt-then-MAC was negotiated.
    pub fn tls12(
        suite: Suite,
        master: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        client: bool,
        etm: bool,
    ) -> Option<RecordCipher> {
        let (mac, mac_len, iv_len) = match suite.bulk {
            Bulk::Aes128Gcm | Bulk::Aes256Gcm => (None, 0, 4),
            Bulk::ChaCha20Poly1305 => (None, 0, 12),
            // The IVs at the end of the key block are TLS 1.0's; 1.2 sends one per record.
            Bulk::AesCbc(_, m) => (Some(m), m.len(), 0),
        };
        let klen = key_len(suite.bulk);
        let mut block = vec![0u8; 2 * (mac_len + klen + iv_len)];
        let seed = [&server_random[..], &client_random[..]].concat();
        prf(suite.hash, master, b"key expansion", &seed, &mut block);
        let pick = |at: usize, n: usize| block[at..at + n].to_vec();
        let side = usize::from(!client);
        let mac_key = pick(side * mac_len, mac_len);
        let key = pick(2 * mac_len + side * klen, klen);
        let ivb = pick(2 * mac_len + 2 * klen + side * iv_len, iv_len);
        let mut iv = [0u8; 12];
        iv[..iv_len].copy_from_slice(&ivb);
        let engine = match mac {
            None => Engine::Aead(aead(suite.bulk, &key)?),
            Some(mac) => Engine::Cbc {
                key,
                mac,
                mac_key,
                etm,
            },
        };
        Some(RecordCipher {
            engine,
            iv,
            seq: 0,
            tls13: false,
            gcm12: matches!(suite.bulk, Bulk::Aes128Gcm | Bulk::Aes256Gcm),
            secret: Vec::new(),
            hash: suite.hash,
        })
    }

    /// Opens one protected record in place (`body` is its fragment); returns the content type
    /// and the range of `body` that is the plaintext. The sequence number moves on only when
    /// the record opened.
    pub fn open(
        &mut self,
        typ: u8,
        version: [u8; 2],
        body: &mut [u8],
    ) -> Result<(u8, std::ops::Range<usize>), OpenError> {
        let seq = self.seq.to_be_bytes();
        let r = match &self.engine {
            Engine::Aead(a) => {
                let explicit = if self.gcm12 { 8 } else { 0 };
                if body.len() < explicit + 16 {
                    return Err(OpenError::Auth);
                }
                let mut nonce = self.iv;
                if self.gcm12 {
                    nonce[4..].copy_from_slice(&body[..8]);
                } else {
                    for (n, s) in nonce[4..].iter_mut().zip(seq) {
                        *n ^= s;
                    }
                }
                let plain_len = body.len() - explicit - 16;
                let aad: Vec<u8> = if self.tls13 {
                    let mut h = vec![typ, version[0], version[1]];
                    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
                    h
                } else {
                    let mut h = seq.to_vec();
                    h.extend_from_slice(&[typ, version[0], version[1]]);
                    h.extend_from_slice(&(plain_len as u16).to_be_bytes());
                    h
                };
                let (ct, tag) = body[explicit..].split_at_mut(plain_len);
                let tag = aes_gcm::aead::generic_array::GenericArray::from_slice(tag);
                let nonce = aes_gcm::aead::generic_array::GenericArray::from_slice(&nonce);
                let ok = match a {
                    Aead::Aes128(c) => c.decrypt_in_place_detached(nonce, &aad, ct, tag),
                    Aead::Aes256(c) => c.decrypt_in_place_detached(nonce, &aad, ct, tag),
                    Aead::ChaCha(c) => c.decrypt_in_place_detached(nonce, &aad, ct, tag),
                };
                ok.map_err(|_| OpenError::Auth)?;
                let range = explicit..explicit + plain_len;
                if self.tls13 {
                    // TLSInnerPlaintext: content, the type, then zeros (RFC 8446 §5.2).
                    let inner = &body[range.clone()];
                    let Some(at) = inner.iter().rposition(|b| *b != 0) else {
                        return Err(OpenError::Auth);
                    };
                    (inner[at], range.start..range.start + at)
                } else {
                    (typ, range)
                }
            }
            Engine::Cbc {
                key,
                mac,
                mac_key,
                etm,
            } => {
                let (ml, bs) = (mac.len(), 16);
                if *etm {
                    // IV, ciphertext, MAC over the header and both (RFC 7366 §3).
                    if body.len() < bs + bs + ml || !(body.len() - ml).is_multiple_of(bs) {
                        return Err(OpenError::Auth);
                    }
                    let clen = body.len() - ml;
                    let (ivct, tag) = body.split_at_mut(clen);
                    let hdr = [typ, version[0], version[1]];
                    let l = (clen as u16).to_be_bytes();
                    if !mac_ok(*mac, mac_key, &[&seq, &hdr, &l, ivct], tag) {
                        return Err(OpenError::Auth);
                    }
                    let (iv, ct) = ivct.split_at_mut(bs);
                    if !cbc_decrypt(key, iv, ct) {
                        return Err(OpenError::Auth);
                    }
                    let n = unpad(ct).ok_or(OpenError::Auth)?;
                    (typ, bs..bs + n)
                } else {
                    if body.len() < bs + bs || !body.len().is_multiple_of(bs) {
                        return Err(OpenError::Auth);
                    }
                    let (iv, ct) = body.split_at_mut(bs);
                    if !cbc_decrypt(key, iv, ct) {
                        return Err(OpenError::Auth);
                    }
                    let n = unpad(ct).ok_or(OpenError::Auth)?;
                    if n < ml {
                        return Err(OpenError::Auth);
                    }
                    let (content, tag) = ct[..n].split_at(n - ml);
                    let hdr = [typ, version[0], version[1]];
                    let l = (content.len() as u16).to_be_bytes();
                    if !mac_ok(*mac, mac_key, &[&seq, &hdr, &l, content], tag) {
                        return Err(OpenError::Auth);
                    }
                    (typ, bs..bs + n - ml)
                }
            }
        };
        self.seq = self.seq.wrapping_add(1);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 §3 (simple 1-RTT handshake): the server's handshake traffic key and IV.
    #[test]
    fn hkdf_expand_label_matches_rfc_8448() {
        let secret = hex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        assert!(expand_label(Hash::Sha256, &secret, "key", &mut key));
        assert!(expand_label(Hash::Sha256, &secret, "iv", &mut iv));
        assert_eq!(key.to_vec(), hex("3fce516009c21727d0f2e4e86ee403bc"));
        assert_eq!(iv.to_vec(), hex("5d313eb2671276ee13000b30"));
    }

    /// The TLS 1.2 PRF test vector for P_SHA256 (IETF TLS working group, the one NSS and
    /// Go's crypto/tls check against).
    #[test]
    fn prf_sha256_matches_the_known_vector() {
        let secret = hex("9bbe436ba940f017b17652849a71db35");
        let seed = hex("a0ba9f936cda311827a6f796ffd5198c");
        let mut out = [0u8; 100];
        prf(Hash::Sha256, &secret, b"test label", &seed, &mut out);
        assert_eq!(
            out.to_vec(),
            hex("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66")
        );
    }

    #[test]
    fn unknown_suites_and_padding() {
        assert!(suite(0x1304).is_none(), "CCM is not supported");
        assert_eq!(suite(0x002F).unwrap().bulk, Bulk::AesCbc(16, Mac::Sha1));
        assert_eq!(unpad(&[1, 2, 2, 2]), Some(1));
        assert_eq!(unpad(&[1, 2, 3, 2]), None);
        assert_eq!(unpad(&[5]), None);
        assert_eq!(unpad(&[]), None);
    }
}
