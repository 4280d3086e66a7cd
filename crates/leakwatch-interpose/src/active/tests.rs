use super::*;

#[test]
fn every_call_has_a_name() {
    assert_eq!(CALL_NAMES.len(), Call::PosixSpawnp as usize + 1);
    assert_eq!(call_name(Call::Open64 as u64), "open64");
    assert_eq!(call_name(Call::PosixSpawnp as u64), "posix_spawnp");
    assert_eq!(call_name(999), "?");
}

/// The level was read when the test binary was loaded, before `main`, so
/// no hook is the first to read it.
#[test]
fn the_level_is_read_at_load() {
    assert!(LEVEL_READ_AT_LOAD.load(Ordering::Relaxed));
    assert!(recording());
}
