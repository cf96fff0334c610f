//! `lever plugin keygen` and `lever plugin sign`: ed25519 keys and the signature section
//! publishing checks against `plugins.trusted_keys` (`lever_registry::signature`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use lever_registry::signature;

/// Arguments of `lever plugin keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Writes the private key to PATH.key (readable only by you) and the public key to PATH.pub.
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `lever plugin sign`.
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The component; signed in place unless --out is given.
    file: PathBuf,
    /// The private key file `lever plugin keygen` wrote.
    #[arg(long)]
    key: PathBuf,
    /// Write the signed component here instead.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(crate) fn keygen(args: KeygenArgs) -> anyhow::Result<()> {
    let private = args.out.with_extension("key");
    let public = args.out.with_extension("pub");
    if private.exists() {
        bail!(
            "{} exists: keygen never overwrites a key",
            private.display()
        );
    }
    let key = signature::generate();
    write_private(&private, &signature::encode_private(&key))?;
    let text = signature::encode_public(&key.verifying_key());
    std::fs::write(&public, format!("{text}\n"))
        .with_context(|| format!("cannot write {}", public.display()))?;
    println!(
        "wrote {} (private: keep it secret) and {}",
        private.display(),
        public.display()
    );
    println!(
        "trust it in lever.yaml:\nplugins:\n  trusted_keys:\n    - name: <who holds it>\n      key: {text}"
    );
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

pub(crate) fn sign(args: SignArgs) -> anyhow::Result<()> {
    let key_text = std::fs::read_to_string(&args.key)
        .with_context(|| format!("cannot read {}", args.key.display()))?;
    let key =
        signature::decode_private(&key_text).with_context(|| format!("{}", args.key.display()))?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let signed = signature::sign(&bytes, &key)?;
    let out = args.out.unwrap_or(args.file);
    std::fs::write(&out, signed).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "signed {} with {}",
        out.display(),
        signature::encode_public(&key.verifying_key())
    );
    Ok(())
}
