//! Platform name for the banner.
pub fn name() -> &'static str {
    lifeboat_hal::platform::name()
}
