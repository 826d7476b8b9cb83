fn main() {
    // CONTRACT.md: the shared library's SONAME is libtcpkit.so.0.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libtcpkit.so.0");
    }
}
