//! The panic handler every wasm32 module gets from the SDK: the message is
//! logged at error level (with its source location), then the module traps
//! with `unreachable`, which the host reports as a fault and the supervisor
//! handles by its restart policy. A panic never reaches the kernel.

#[cfg(all(target_arch = "wasm32", feature = "panic-handler"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    let mut text = crate::TextBuffer::<512>::new();
    let _ = text.write_str("panic");
    if let Some(location) = info.location() {
        let _ = write!(
            text,
            " at {}:{}:{}",
            location.file(),
            location.line(),
            location.column()
        );
    }
    let _ = write!(text, ": {}", info.message());
    crate::log::write(crate::LogLevel::Error, text.as_str());
    core::arch::wasm32::unreachable()
}
