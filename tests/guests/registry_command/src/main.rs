//! A plain WASI command component: valid, but not a Lever world. Publishing it must fail.
fn main() {
    println!("not a lever plugin");
}
