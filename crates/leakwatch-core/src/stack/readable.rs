//! Stacks and await chains as a person reads them: the user's frames
//! standing out, each run of one dependency's frames one line, named by
//! the run's innermost function (what the code there waits on or calls).

use std::fmt;

use super::Frame;
use super::own::is_own_frame;
use super::whose;

/// Crates whose frames say nothing a reader can act on: the language's and
/// a pinning helper's; leakwatch's own (see [`super::own`]) beside them.
const NOISE: &[&str] = &["std::", "core::", "alloc::", "pin_project_lite::"];

/// Whose a frame is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Whose {
    /// The language's, leakwatch's, a closure-call shim: left out.
    Noise,
    /// The user's own code.
    Users,
    /// A dependency's, named as `hyper 1.x`.
    Dependency(String),
}

/// The function name without the `<` of a trait impl, for prefix tests.
fn bare(function: &str) -> &str {
    function.trim_start_matches('<')
}

pub(super) fn whose(frame: &Frame) -> Whose {
    let function = bare(&frame.function);
    if NOISE.iter().any(|krate| function.starts_with(krate))
        || is_own_frame(function)
        || function.is_empty()
    {
        return Whose::Noise;
    }
    match &frame.file {
        Some(file) if whose::is_dependency_file(file) => Whose::Dependency(
            whose::crate_of_file(file).unwrap_or_else(|| crate_of_function(function)),
        ),
        Some(_) => Whose::Users,
        // No debug info: only the name says whose it is.
        None => Whose::Dependency(crate_of_function(function)),
    }
}

fn crate_of_function(function: &str) -> String {
    function
        .split("::")
        .next()
        .unwrap_or(function)
        .replace('_', "-")
}

/// One line of a stack or an await chain, as a report prints it.
///
/// ```
/// use leakwatch_core::{Frame, FrameLine};
///
/// let frames = vec![
///     Frame {
///         function: "hyper::client::conn::http1::SendRequest<B>::send_request".into(),
///         file: Some("/home/ada/.cargo/registry/src/i/hyper-1.12.0/src/client/conn/http1.rs".into()),
///         line: Some(190),
///         column: Some(9),
///     },
///     Frame {
///         function: "app::fetch::{{closure}}".into(),
///         file: Some("src/fetch.rs".into()),
///         line: Some(12),
///         column: Some(40),
///     },
/// ];
/// let lines: Vec<String> = FrameLine::collapse(frames).iter().map(ToString::to_string).collect();
/// assert_eq!(
///     lines,
///     [
///         "hyper::client::conn::http1::SendRequest<B>::send_request … 1 frame in hyper 1.x",
///         "→ app::fetch::{{closure}} at src/fetch.rs:12:40",
///     ]
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(serde::Serialize))]
pub enum FrameLine {
    /// A frame of the user's code, its file relative to the workspace.
    Users(Frame),
    /// `count` frames in a row of one dependency.
    Dependency {
        /// The crate, as `hyper 1.x`.
        name: String,
        /// How many frames.
        count: usize,
        /// The run's innermost function, as it is called (an `async fn`
        /// without its `{{closure}}`, a future without its `poll`): what
        /// the frames outside it wait on or call.
        innermost: String,
    },
}

impl FrameLine {
    /// `frames`, innermost first (as a [`Stack`](crate::Stack) has them),
    /// with leakwatch's, std's and closure-call frames left out, the user's
    /// own frames kept one per line (paths relative to the workspace root)
    /// and each run of frames of one dependency collapsed to one line named
    /// by its first frame's function.
    ///
    /// ```
    /// assert!(leakwatch_core::FrameLine::collapse(Vec::new()).is_empty());
    /// ```
    pub fn collapse(frames: impl IntoIterator<Item = Frame>) -> Vec<FrameLine> {
        collapse(frames, Order::InnermostFirst)
    }

    /// [`collapse`](Self::collapse) for `frames` outermost first, as tokio
    /// prints a task's await chain: each run of one dependency's frames is
    /// named by its last frame's function.
    ///
    /// ```
    /// use leakwatch_core::{Frame, FrameLine};
    ///
    /// let frame = |function: &str| Frame {
    ///     function: function.into(),
    ///     file: Some("/h/.cargo/registry/src/i/redis-0.26.1/src/aio/multiplexed_connection.rs".into()),
    ///     line: Some(400),
    ///     column: Some(9),
    /// };
    /// let chain = [
    ///     frame("redis::client::Client::get_multiplexed_async_connection::{{closure}}"),
    ///     frame("redis::aio::MultiplexedConnection::new_with_config::{{closure}}"),
    ///     frame("redis::aio::MultiplexedConnection::new::{{closure}}"),
    /// ];
    /// let lines = FrameLine::collapse_chain(chain);
    /// assert_eq!(
    ///     lines[0].to_string(),
    ///     "redis::aio::MultiplexedConnection::new … 3 frames in redis 0.26.x"
    /// );
    /// ```
    pub fn collapse_chain(frames: impl IntoIterator<Item = Frame>) -> Vec<FrameLine> {
        collapse(frames, Order::OutermostFirst)
    }
}

/// The order of the frames given to [`collapse`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    /// A stack's: a run's innermost frame is its first.
    InnermostFirst,
    /// An await chain's: a run's innermost frame is its last.
    OutermostFirst,
}

fn collapse(frames: impl IntoIterator<Item = Frame>, order: Order) -> Vec<FrameLine> {
    let mut out: Vec<FrameLine> = Vec::new();
    for frame in frames {
        match whose(&frame) {
            Whose::Noise => {}
            Whose::Users => {
                let frame = relative(frame);
                if out.last() != Some(&FrameLine::Users(frame.clone())) {
                    out.push(FrameLine::Users(frame));
                }
            }
            Whose::Dependency(name) => match out.last_mut() {
                Some(FrameLine::Dependency {
                    name: last,
                    count,
                    innermost,
                }) if *last == name => {
                    *count += 1;
                    if order == Order::OutermostFirst {
                        *innermost = callable(&frame.function);
                    }
                }
                _ => out.push(FrameLine::Dependency {
                    name,
                    count: 1,
                    innermost: callable(&frame.function),
                }),
            },
        }
    }
    out
}

impl fmt::Display for FrameLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameLine::Users(frame) => write!(f, "→ {frame}"),
            FrameLine::Dependency {
                name,
                count: 1,
                innermost,
            } => write!(f, "{innermost} … 1 frame in {name}"),
            FrameLine::Dependency {
                name,
                count,
                innermost,
            } => write!(f, "{innermost} … {count} frames in {name}"),
        }
    }
}

/// `frame` with its file relative to the workspace root.
pub(super) fn relative(mut frame: Frame) -> Frame {
    if let Some(file) = &frame.file {
        let short = whose::short_path(file);
        if short.len() != file.len() {
            frame.file = Some(short.to_owned());
        }
    }
    frame
}

/// Where the user's code was when a dependency opened an item: the first
/// (innermost) frame of the user's code on the stack captured at the open,
/// and the dependency's function it was in a call of.
///
/// ```
/// # fn show(group: &leakwatch_core::Group) {
/// if let Some(call) = group.via() {
///     println!("via {} ({})", call.location(), call.callee().unwrap_or("?"));
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "json", derive(serde::Serialize))]
pub struct UserCall {
    function: String,
    file: String,
    line: u32,
    column: Option<u32>,
    callee: Option<String>,
}

impl UserCall {
    /// The user's function (an `async fn`'s body is its `{{closure}}`).
    ///
    /// ```
    /// # fn show(call: &leakwatch_core::UserCall) {
    /// println!("in {}", call.function());
    /// # }
    /// ```
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The file, relative to the workspace root.
    ///
    /// ```
    /// # fn show(call: &leakwatch_core::UserCall) {
    /// assert!(!call.file().is_empty());
    /// # }
    /// ```
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The line of the call (for an `async fn`, of the `.await`).
    ///
    /// ```
    /// # fn show(call: &leakwatch_core::UserCall) {
    /// assert!(call.line() > 0);
    /// # }
    /// ```
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The column, when debug info has it.
    ///
    /// ```
    /// # fn show(call: &leakwatch_core::UserCall) {
    /// println!("{:?}", call.column());
    /// # }
    /// ```
    pub fn column(&self) -> Option<u32> {
        self.column
    }

    /// `file:line:column`, as a report prints it.
    ///
    /// ```
    /// # fn show(call: &leakwatch_core::UserCall) {
    /// assert!(call.location().starts_with(call.file()));
    /// # }
    /// ```
    pub fn location(&self) -> String {
        match self.column {
            Some(column) => format!("{}:{}:{column}", self.file, self.line),
            None => format!("{}:{}", self.file, self.line),
        }
    }

    /// The dependency's function the user's code was calling (or awaiting):
    /// `bb8::api::Builder<M>::build`. Closure and `Future::poll` wrappings
    /// are taken off.
    ///
    /// ```
    /// # fn show(call: &leakwatch_core::UserCall) {
    /// if let Some(callee) = call.callee() {
    ///     println!("calling {callee}");
    /// }
    /// # }
    /// ```
    pub fn callee(&self) -> Option<&str> {
        self.callee.as_deref()
    }
}

/// The user's call in `frames` (innermost first, all of a capture): the
/// first frame of the user's code, and the dependency frame just inside it.
pub(super) fn user_call(frames: &[Frame]) -> Option<UserCall> {
    let mut callee: Option<&Frame> = None;
    for frame in frames {
        match whose(frame) {
            Whose::Noise => {}
            Whose::Dependency(_) => callee = Some(frame),
            Whose::Users => {
                let frame = relative(frame.clone());
                return Some(UserCall {
                    function: frame.function,
                    file: frame.file?,
                    line: frame.line?,
                    column: frame.column,
                    callee: callee.map(|f| callable(&f.function)),
                });
            }
        }
    }
    None
}

/// A function name as a person calls it: `<T as Future>::poll` (or
/// `<T as Future>`, as tokio's task dumps name a poll) as `T`, without the
/// `{{closure}}`s an `async fn`'s body is named by.
fn callable(function: &str) -> String {
    let mut name = function;
    if let Some(inner) = name.strip_prefix('<')
        && let Some((ty, method)) = inner.split_once(" as core::future::future::Future>")
        && (method.is_empty() || method == "::poll")
    {
        name = ty;
    }
    while let Some(outer) = name.strip_suffix("::{{closure}}") {
        name = outer;
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPER: &str = "/h/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/hyper-1.12.0/src/proto/h1/dispatch.rs";
    const UTIL: &str = "/h/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/hyper-util-0.1.21/src/client/legacy/client.rs";

    pub(crate) fn frame(function: &str, file: Option<&str>, line: u32) -> Frame {
        Frame {
            function: function.into(),
            file: file.map(Into::into),
            line: Some(line),
            column: Some(9),
        }
    }

    fn user_file() -> String {
        format!("{}/tests/client.rs", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn collapses_runs_of_one_dependency_and_marks_the_users_frames() {
        let user = user_file();
        let mut frames = vec![frame("std::thread::local::LocalKey<T>::with", None, 1)];
        frames.push(frame(
            "hyper::proto::h1::io::Buffered::poll_read_from_io",
            Some(HYPER),
            1,
        ));
        frames.extend((0..13).map(|i| {
            frame(
                "hyper::proto::h1::dispatch::Dispatcher::poll",
                Some(HYPER),
                i,
            )
        }));
        frames.push(frame(
            "<core::pin::Pin<P> as core::future::future::Future>::poll",
            None,
            3,
        ));
        frames.extend((0..3).map(|i| {
            frame(
                "hyper_util::client::legacy::Client::send_request",
                Some(UTIL),
                i,
            )
        }));
        frames.push(frame("client::fetch::{{closure}}", Some(&user), 12));
        frames.push(frame("client::fetch::{{closure}}", Some(&user), 12));
        frames.push(frame("futures_util::future::Map::poll", None, 1));
        let lines: Vec<String> = FrameLine::collapse(frames)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "hyper::proto::h1::io::Buffered::poll_read_from_io … 14 frames in hyper 1.x",
                "hyper_util::client::legacy::Client::send_request … 3 frames in hyper-util 0.1.x",
                "→ client::fetch::{{closure}} at crates/leakwatch-core/tests/client.rs:12:9",
                "futures_util::future::Map::poll … 1 frame in futures-util",
            ]
        );
    }

    const REDIS: &str = "/h/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/redis-0.26.1/src/aio/multiplexed_connection.rs";

    /// A chain whose every frame is redis's, outermost first, as tokio
    /// prints it.
    fn redis_chain() -> Vec<Frame> {
        vec![
            frame(
                "redis::client::Client::get_multiplexed_async_connection::{{closure}}",
                Some(REDIS),
                210,
            ),
            frame(
                "<core::pin::Pin<P> as core::future::future::Future>::poll",
                None,
                3,
            ),
            frame(
                "redis::aio::MultiplexedConnection::new_with_config::{{closure}}",
                Some(REDIS),
                420,
            ),
            frame(
                "<redis::aio::MultiplexedConnection::new::{{closure}} as core::future::future::Future>::poll",
                Some(REDIS),
                400,
            ),
        ]
    }

    fn printed(lines: &[FrameLine]) -> Vec<String> {
        lines.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_run_of_one_librarys_frames_names_its_innermost_function() {
        assert_eq!(
            printed(&FrameLine::collapse_chain(redis_chain())),
            ["redis::aio::MultiplexedConnection::new … 3 frames in redis 0.26.x"]
        );
        // The same frames as a stack has them, innermost first.
        let mut stack = redis_chain();
        stack.reverse();
        let lines = FrameLine::collapse(stack);
        assert_eq!(
            printed(&lines),
            ["redis::aio::MultiplexedConnection::new … 3 frames in redis 0.26.x"]
        );
        assert_eq!(
            lines,
            [FrameLine::Dependency {
                name: "redis 0.26.x".into(),
                count: 3,
                innermost: "redis::aio::MultiplexedConnection::new".into(),
            }]
        );
    }

    #[test]
    fn around_the_users_frames_each_run_names_its_own_innermost_function() {
        let user = user_file();
        let mut chain = vec![frame("app::cache::warm::{{closure}}", Some(&user), 30)];
        chain.extend(redis_chain());
        chain.push(frame("app::cache::on_reply", Some(&user), 44));
        chain.push(frame(
            "tokio::sync::mpsc::bounded::Receiver<T>::recv::{{closure}}",
            Some("/h/.cargo/registry/src/i/tokio-1.48.0/src/sync/mpsc/bounded.rs"),
            415,
        ));
        chain.push(frame(
            "tokio::sync::mpsc::chan::Rx<T,S>::recv",
            Some("/h/.cargo/registry/src/i/tokio-1.48.0/src/sync/mpsc/chan.rs"),
            290,
        ));
        assert_eq!(
            printed(&FrameLine::collapse_chain(chain.clone())),
            [
                "→ app::cache::warm::{{closure}} at crates/leakwatch-core/tests/client.rs:30:9",
                "redis::aio::MultiplexedConnection::new … 3 frames in redis 0.26.x",
                "→ app::cache::on_reply at crates/leakwatch-core/tests/client.rs:44:9",
                "tokio::sync::mpsc::chan::Rx<T,S>::recv … 2 frames in tokio 1.x",
            ]
        );
        chain.reverse();
        assert_eq!(
            printed(&FrameLine::collapse(chain)),
            [
                "tokio::sync::mpsc::chan::Rx<T,S>::recv … 2 frames in tokio 1.x",
                "→ app::cache::on_reply at crates/leakwatch-core/tests/client.rs:44:9",
                "redis::aio::MultiplexedConnection::new … 3 frames in redis 0.26.x",
                "→ app::cache::warm::{{closure}} at crates/leakwatch-core/tests/client.rs:30:9",
            ]
        );
    }

    #[test]
    fn the_user_call_is_the_first_users_frame_with_the_dependency_inside_it() {
        let user = user_file();
        let frames = vec![
            frame("leakwatch_core::stack::capture", None, 1),
            frame("tokio::task::spawn::spawn", None, 1),
            frame(
                "hyper_util::rt::tokio::TokioExecutor::execute",
                Some(UTIL),
                127,
            ),
            frame(
                "<hyper_util::client::legacy::client::ResponseFuture as core::future::future::Future>::poll",
                Some(UTIL),
                30,
            ),
            frame("client::fetch::{{closure}}", Some(&user), 12),
            frame("client::main", Some(&user), 40),
        ];
        let call = user_call(&frames).expect("a user's frame");
        assert_eq!(
            call.location(),
            "crates/leakwatch-core/tests/client.rs:12:9"
        );
        assert_eq!(call.function(), "client::fetch::{{closure}}");
        assert_eq!(
            call.callee(),
            Some("hyper_util::client::legacy::client::ResponseFuture")
        );
        assert_eq!(user_call(&frames[..4]), None);
    }

    #[test]
    fn callees_read_as_called() {
        assert_eq!(
            callable("bb8::api::Builder<M>::build::{{closure}}"),
            "bb8::api::Builder<M>::build"
        );
        assert_eq!(callable("a::b"), "a::b");
        // tokio's task dumps leave the method out.
        assert_eq!(
            callable(
                "<futures_util::future::future::map::Map<Fut,F> as core::future::future::Future>"
            ),
            "futures_util::future::future::map::Map<Fut,F>"
        );
        assert_eq!(
            callable("<F as futures_core::future::TryFuture>::try_poll"),
            "<F as futures_core::future::TryFuture>::try_poll"
        );
        assert_eq!(
            callable("<a::B as core::future::future::Future>::poll_x"),
            "<a::B as core::future::future::Future>::poll_x"
        );
    }
}
