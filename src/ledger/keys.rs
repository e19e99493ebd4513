//! Who signs the blocks: keys derived from the scenario's public seed (reproducible examples), or
//! a keystore of Ed25519 key pairs drawn from the operating system's randomness
//! (`peergrid keygen`, then `run --keys DIR`), whose secret keys never appear in any output.
//!
//! A keystore folder holds `public_keys.csv` (`household,public_key`: publish it) and
//! `secret_keys.csv` (`household,secret_key`: keep it), one row per household in scenario order,
//! keys as lower-case hex.

use super::encoding::{hex, parse_hex};
use super::validators::signing_key;
use crate::base::error::{InputError, Location};
use ed25519_dalek::SigningKey;
use std::path::Path;
use std::sync::Arc;

/// File of a keystore's public keys.
pub const PUBLIC_KEYS_FILE: &str = "public_keys.csv";
/// File of a keystore's secret keys.
pub const SECRET_KEYS_FILE: &str = "secret_keys.csv";

/// Where the household keys come from.
#[derive(Clone, Default)]
pub enum KeySource {
    /// Derived from the scenario seed ([`signing_key`]): anyone who knows the seed can sign.
    #[default]
    Seed,
    /// A keystore's secret keys, by household index.
    Store(Arc<Keystore>),
}

impl KeySource {
    /// Household `index`'s signing key.
    pub fn signing_key(&self, seed: u64, index: u32) -> SigningKey {
        match self {
            KeySource::Seed => signing_key(seed, index),
            KeySource::Store(store) => SigningKey::from_bytes(&store.secret[index as usize]),
        }
    }
}

/// One secret key per household, in scenario order.
pub struct Keystore {
    secret: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret key.
        write!(f, "Keystore({} keys)", self.secret.len())
    }
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Seed => write!(f, "Seed"),
            KeySource::Store(s) => write!(f, "Store({s:?})"),
        }
    }
}

impl Keystore {
    /// Draws one key pair per household from the operating system's randomness.
    pub fn generate(households: usize) -> Result<Keystore, String> {
        use rand::TryRng;
        let mut secret = vec![[0u8; 32]; households];
        for s in &mut secret {
            rand::rngs::SysRng.try_fill_bytes(s).map_err(|e| format!("the operating system's randomness is not available: {e}"))?;
        }
        Ok(Keystore { secret })
    }

    /// The two files' text: (`public_keys.csv`, `secret_keys.csv`).
    pub fn to_csv(&self, ids: &[String]) -> (String, String) {
        let (mut public, mut secret) = (String::from("household,public_key\n"), String::from("household,secret_key\n"));
        for (id, s) in ids.iter().zip(&self.secret) {
            let key = SigningKey::from_bytes(s);
            public.push_str(&format!("{},{}\n", csv_field(id), hex(key.verifying_key().as_bytes())));
            secret.push_str(&format!("{},{}\n", csv_field(id), hex(s)));
        }
        (public, secret)
    }

    /// Reads a keystore folder's secret keys for households `ids` (scenario order); every
    /// household must have exactly one key. Checks `public_keys.csv` against them when present.
    pub fn read(dir: &Path, ids: &[String]) -> Result<Keystore, InputError> {
        let path = dir.join(SECRET_KEYS_FILE);
        let text = crate::base::input::read_text(&path, "the keystore's secret keys", crate::base::input::MAX_DATA_FILE_BYTES).map_err(|mut e| {
            e.message.push_str(" (write a keystore with `peergrid keygen --out DIR SCENARIO`)");
            e
        })?;
        let secret = read_keys(&path, &text, "secret_key", ids)?;
        let store = Keystore { secret };
        let public_path = dir.join(PUBLIC_KEYS_FILE);
        if public_path.exists() {
            let text = crate::base::input::read_text(&public_path, "the keystore's public keys", crate::base::input::MAX_DATA_FILE_BYTES)?;
            let public = read_keys(&public_path, &text, "public_key", ids)?;
            for (i, (p, s)) in public.iter().zip(&store.secret).enumerate() {
                if SigningKey::from_bytes(s).verifying_key().as_bytes() != p {
                    return Err(row_error(&public_path, i as u64 + 2, "public_key", format!("is not the public key of household {}'s secret key in {SECRET_KEYS_FILE}", ids[i])));
                }
            }
        }
        Ok(store)
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn row_error(path: &Path, line: u64, field: &str, message: String) -> InputError {
    InputError { file: path.to_path_buf(), location: Location::Row { line, field: field.into() }, message }
}

/// The 32-byte keys of column `column`, one per household of `ids`, in their order.
fn read_keys(path: &Path, text: &str, column: &str, ids: &[String]) -> Result<Vec<[u8; 32]>, InputError> {
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = r.headers().map_err(|e| InputError::file(path, format!("not a CSV file: {e}")))?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name).ok_or_else(|| InputError::file(path, format!("has no `{name}` column (the header must be `household,{column}`)")));
    let (h_col, k_col) = (col("household")?, col(column)?);
    let index: std::collections::HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let mut keys: Vec<Option<[u8; 32]>> = vec![None; ids.len()];
    for (n, row) in r.records().enumerate() {
        let line = n as u64 + 2;
        let row = row.map_err(|e| row_error(path, line, "household", format!("not a CSV row: {e}")))?;
        let id = row.get(h_col).unwrap_or("");
        let Some(&i) = index.get(id) else {
            return Err(row_error(path, line, "household", format!("`{id}` is not a household of the scenario (a keystore is written for one scenario's households)")));
        };
        let key: [u8; 32] = row.get(k_col).and_then(parse_hex).and_then(|v| v.try_into().ok()).ok_or_else(|| row_error(path, line, column, "must be 64 hex digits".into()))?;
        if keys[i].replace(key).is_some() {
            return Err(row_error(path, line, "household", format!("`{id}` has a second key")));
        }
    }
    if let Some(i) = keys.iter().position(Option::is_none) {
        return Err(InputError::file(path, format!("has no key for household `{}` ({} of {} households have one)", ids[i], keys.iter().flatten().count(), ids.len())));
    }
    Ok(keys.into_iter().flatten().collect())
}

/// Whether `public_key` is the seed-derived key of member `index` (anyone who knows the seed
/// could have signed with it).
pub fn is_seed_derived(seed: u64, index: u32, public_key: &[u8; 32]) -> bool {
    signing_key(seed, index).verifying_key().as_bytes() == public_key
}
