//! A descriptor opened 40 frames deep, with stacks on: the record holds
//! the same return addresses libgcc's unwinder finds from the opening
//! function outwards, through std's `File::open` and the hook.
#![cfg(all(leakwatch_hooks, debug_assertions))]

mod support;
use support::names;

use std::os::fd::IntoRawFd;

use leakwatch_core::Scope;
use leakwatch_interpose::{Stacks, open_in, set_stacks};

const DEPTH: usize = 40;

/// Opens a file and walks its own stack with libgcc's unwinder.
#[inline(never)]
fn open_here(walk: &mut Vec<usize>) -> i32 {
    let fd = std::fs::File::open("Cargo.toml").unwrap().into_raw_fd();
    backtrace::trace(|frame| {
        walk.push(frame.ip() as usize);
        true
    });
    std::hint::black_box(fd)
}

#[inline(never)]
fn down(depth: usize, walk: &mut Vec<usize>) -> i32 {
    let fd = if depth == 0 {
        open_here(walk)
    } else {
        down(depth - 1, walk)
    };
    std::hint::black_box(fd)
}

#[test]
fn a_deep_open_records_the_callers_frames() {
    let scope = Scope::new("deep");
    set_stacks(Stacks::Always);
    let mut theirs = Vec::new();
    let fd = scope.run(|| down(DEPTH, &mut theirs));
    set_stacks(Stacks::AtLevel);
    let open = open_in(&[scope.id()]);
    // SAFETY: `fd` came from `into_raw_fd` and is closed once.
    unsafe { libc::close(fd) };
    let recorded = &open.fds[0].created.stack;

    // The record starts in the hook and std, then returns into
    // `open_here`'s caller: from there on it is libgcc's walk.
    let (j, k) = recorded
        .iter()
        .enumerate()
        .find_map(|(j, ip)| Some((j, theirs.iter().position(|t| t == ip)?)))
        .unwrap_or_else(|| panic!("no frame in common: {:#?}", names(recorded)));
    let same = recorded[j..]
        .iter()
        .zip(&theirs[k..])
        .take_while(|(a, b)| a == b)
        .count();
    assert_eq!(
        same,
        recorded.len() - j,
        "the record leaves libgcc's walk at frame {}: {:#?}",
        j + same,
        names(recorded)
    );
    assert!(same > DEPTH, "{same} frames in common");
    assert!(
        names(&recorded[..j + 1])
            .iter()
            .any(|f| f.ends_with("open_here")),
        "{:#?}",
        names(recorded)
    );
}
