//! leakwatch against real crates: the tests are under `tests/`.
