//! The head of the audit chain anchored outside the database. The hash chain shows an edited
//! or deleted row, but not rows cut off its end, nor a database restored from an older copy:
//! both leave a shorter chain that holds. So the server writes the newest row's position and
//! hash, with an HMAC-SHA256 under a key kept outside the database, to a file in the data dir
//! whenever the head moves; `verify` then checks that the anchored row is still there with the
//! same hash. Someone who can write the database but not the data dir cannot make the two
//! agree again.

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sqlx::Row;

use crate::{AuditVerification, Store, StoreError, now_ms};

/// The anchor's file name in the data dir.
pub const ANCHOR_FILE: &str = "audit-anchor.json";

/// What the anchor file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The newest row's position when it was written.
    pub seq: i64,
    /// That row's hash.
    pub hash: String,
    /// How many rows the trail had then.
    pub rows: i64,
    /// When it was written (ms).
    pub at: i64,
    /// HMAC-SHA256 of the above under the anchor key, hex.
    pub mac: String,
}

/// Writes and checks the anchor of one data dir.
pub struct AuditAnchor {
    path: PathBuf,
    key: [u8; 32],
}

impl AuditAnchor {
    /// The anchor in `data_dir`, signed with `key`.
    pub fn new(data_dir: &Path, key: [u8; 32]) -> Self {
        Self {
            path: data_dir.join(ANCHOR_FILE),
            key,
        }
    }

    /// Where the anchor is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn mac(&self, seq: i64, hash: &str, rows: i64, at: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(format!("lever-audit-anchor/v1\n{seq}\n{hash}\n{rows}\n{at}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The anchor on disk: `Ok(None)` when none was written yet, `Err` (saying why) when it
    /// cannot be read or its MAC does not hold under this key.
    pub fn read(&self) -> Result<Option<Anchor>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", self.path.display())),
        };
        let anchor: Anchor = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not an audit anchor: {e}", self.path.display()))?;
        let expected = self.mac(anchor.seq, &anchor.hash, anchor.rows, anchor.at);
        if expected != anchor.mac {
            return Err(format!(
                "{} does not carry a valid signature under this server's anchor key: the file was edited, or the key changed without `lever audit anchor --reset`",
                self.path.display()
            ));
        }
        Ok(Some(anchor))
    }

    /// The chain's own check (`Store::verify_audit`) with what is wrong between the database
    /// and the anchor added: what `lever audit verify`, the API and the web audit page answer.
    pub async fn verify(&self, store: &Store) -> Result<AuditVerification, StoreError> {
        let mut verification = store.verify_audit().await?;
        verification.problems.extend(self.examine(store).await?.1);
        verification.intact = verification.problems.is_empty();
        Ok(verification)
    }

    /// The anchor on disk, if it holds under this key, and what is wrong between it and the
    /// database (nothing when no anchor exists yet).
    async fn examine(&self, store: &Store) -> Result<(Option<Anchor>, Vec<String>), StoreError> {
        let anchor = match self.read() {
            Ok(Some(anchor)) => anchor,
            Ok(None) => return Ok((None, Vec::new())),
            Err(why) => return Ok((None, vec![why])),
        };
        let problems = match store.audit_hash_at(anchor.seq).await? {
            None => {
                let (last, rows) = store.audit_head().await?;
                vec![format!(
                    "the trail ends at row {} ({rows} rows) but the anchor written at {} ms names row {} ({} rows): rows were removed from the end of the trail, or the database was restored from an older copy",
                    last.map_or("none".to_string(), |(seq, _)| seq.to_string()),
                    anchor.at,
                    anchor.seq,
                    anchor.rows
                )]
            }
            Some(hash) if hash != anchor.hash => vec![format!(
                "row {} no longer has the hash the anchor recorded at {} ms: the trail was rewritten from there, or the database replaced",
                anchor.seq, anchor.at
            )],
            Some(_) => Vec::new(),
        };
        Ok((Some(anchor), problems))
    }

    /// Writes the current head when it moved on. Refuses (answering the problems) while the
    /// anchor does not hold, so a cut or restored trail is never anchored over.
    pub async fn advance(&self, store: &Store) -> Result<Vec<String>, StoreError> {
        let (anchor, problems) = self.examine(store).await?;
        if !problems.is_empty() {
            return Ok(problems);
        }
        let (head, rows) = store.audit_head().await?;
        let Some((seq, hash)) = head else {
            return Ok(Vec::new());
        };
        if anchor.is_none_or(|a| a.seq != seq) {
            self.write(seq, &hash, rows)?;
        }
        Ok(Vec::new())
    }

    /// Anchors the current head whatever the file says: after a key rotation, or once an
    /// operator has looked into a reported problem.
    pub async fn reset(&self, store: &Store) -> Result<Option<i64>, StoreError> {
        let (head, rows) = store.audit_head().await?;
        match head {
            Some((seq, hash)) => {
                self.write(seq, &hash, rows)?;
                Ok(Some(seq))
            }
            None => {
                let _ = std::fs::remove_file(&self.path);
                Ok(None)
            }
        }
    }

    fn write(&self, seq: i64, hash: &str, rows: i64) -> Result<(), StoreError> {
        let at = now_ms();
        let anchor = Anchor {
            seq,
            hash: hash.to_string(),
            rows,
            at,
            mac: self.mac(seq, hash, rows, at),
        };
        // Written aside and renamed: a crash never leaves half an anchor.
        let temporary = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&anchor).expect("an anchor serialises");
        std::fs::write(&temporary, text)
            .and_then(|()| std::fs::rename(&temporary, &self.path))
            .map_err(|e| StoreError::Io(format!("cannot write {}: {e}", self.path.display())))
    }
}

impl Store {
    /// The newest audit row (position, hash) and the number of rows.
    pub async fn audit_head(&self) -> Result<(Option<(i64, String)>, i64), StoreError> {
        let head = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?
            .map(|row| Ok::<_, sqlx::Error>((row.try_get(0)?, row.try_get(1)?)))
            .transpose()?;
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
            .fetch_one(&self.pool)
            .await?;
        Ok((head, rows))
    }

    /// The hash of audit row `seq`, if it exists.
    pub async fn audit_hash_at(&self, seq: i64) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
                .bind(seq)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}
