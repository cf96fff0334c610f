//! Pure compute for fuel metering overhead: `hash` is a dependent arithmetic chain, `sieve`
//! a branchy, memory-bound sieve of Eratosthenes repeated `iterations` times.
use lever_sdk::{ActionError, Context, action};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    kind: String,
    iterations: u64,
}

fn hash(iterations: u64) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for i in 0..iterations {
        h ^= i;
        h = h.wrapping_mul(0x100000001b3);
        h ^= h >> 29;
    }
    h
}

fn sieve(iterations: u64) -> u64 {
    let mut primes = 0;
    let mut composite = vec![false; 100_000];
    for _ in 0..iterations {
        composite.iter_mut().for_each(|c| *c = false);
        for i in 2..composite.len() {
            if !composite[i] {
                primes += 1;
                let mut j = i * i;
                while j < composite.len() {
                    composite[j] = true;
                    j += i;
                }
            }
        }
    }
    primes
}

#[action(
    name = "bench-compute",
    version = "0.1.0",
    description = "Computes in a loop"
)]
fn run(_ctx: &Context, input: Input) -> Result<u64, ActionError> {
    match input.kind.as_str() {
        "hash" => Ok(hash(input.iterations)),
        "sieve" => Ok(sieve(input.iterations)),
        other => Err(ActionError::InvalidInput(format!(
            "kind `{other}` is hash or sieve"
        ))),
    }
}
