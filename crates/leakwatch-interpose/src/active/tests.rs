use super::*;

#[test]
fn every_call_has_a_name() {
    assert_eq!(CALL_NAMES.len(), Call::PosixSpawnp as usize + 1);
    assert_eq!(call_name(Call::Open64 as u64), "open64");
    assert_eq!(call_name(Call::PosixSpawnp as u64), "posix_spawnp");
    assert_eq!(call_name(999), "?");
}
