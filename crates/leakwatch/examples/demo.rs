//! A small order service with four real leaks, and the report leakwatch
//! prints for them.
//!
//! ```text
//! cargo run --example demo
//! LEAKWATCH=stacks cargo run --example demo   # with full stacks
//! ```
//!
//! The leaks, each a common Rust shape of the problem:
//! 1. a database connection parked in a global cache and never evicted;
//! 2. an audit log file held by an `Rc` cycle between a session and its log;
//! 3. a lock file handed to `mem::forget` "to keep it open";
//! 4. a transaction dropped without `commit` on an early return.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Mutex;

use leakwatch::fs::File;
use leakwatch::net::TcpStream;
use leakwatch::{Scope, Tag};

/// Connections by database address, shared by every request.
static CONNECTIONS: Mutex<Option<HashMap<SocketAddr, TcpStream>>> = Mutex::new(None);

/// Sends one query over the cached connection to `db`, connecting first if
/// needed. The connection stays in the cache for good: leak 1.
fn query(db: SocketAddr, sql: &str) -> std::io::Result<String> {
    let mut cache = CONNECTIONS.lock().unwrap();
    let conn = match cache.get_or_insert_with(HashMap::new).entry(db) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => e.insert(TcpStream::connect(db)?),
    };
    writeln!(conn, "{sql}")?;
    let mut reply = String::new();
    BufReader::new(&**conn).read_line(&mut reply)?;
    Ok(reply.trim().to_owned())
}

/// A transaction: must end in `commit`.
struct Transaction {
    db: SocketAddr,
    tag: Tag,
}

impl Transaction {
    #[track_caller]
    fn begin(db: SocketAddr) -> std::io::Result<Transaction> {
        query(db, "BEGIN")?;
        Ok(Transaction {
            db,
            tag: Tag::must_close_with_detail("db-txn", format_args!("on {db}")),
        })
    }

    fn commit(self) -> std::io::Result<()> {
        query(self.db, "COMMIT")?;
        self.tag.close();
        Ok(())
    }
}

/// A user session and its audit log point at each other: leak 2.
struct Session {
    user: String,
    log: RefCell<Option<Rc<AuditLog>>>,
}

struct AuditLog {
    file: RefCell<File>,
    session: RefCell<Option<Rc<Session>>>, // should be a `Weak`
}

fn open_session(user: &str, dir: &Path) -> std::io::Result<Rc<Session>> {
    let session = Rc::new(Session {
        user: user.to_owned(),
        log: RefCell::new(None),
    });
    let log = Rc::new(AuditLog {
        file: RefCell::new(File::create(dir.join(format!("audit-{user}.log")))?),
        session: RefCell::new(Some(session.clone())),
    });
    *session.log.borrow_mut() = Some(log);
    Ok(session)
}

fn place_order(db: SocketAddr, dir: &Path, user: &str, items: u32) -> std::io::Result<()> {
    let session = open_session(user, dir)?;
    if let Some(log) = session.log.borrow().as_ref() {
        writeln!(log.file.borrow_mut(), "{} orders {items}", session.user)?;
        assert!(log.session.borrow().is_some());
    }
    let txn = Transaction::begin(db)?;
    if items == 0 {
        // Early return: the transaction is dropped, never committed: leak 4.
        return Ok(());
    }
    query(
        db,
        &format!("INSERT INTO orders VALUES ('{user}', {items})"),
    )?;
    txn.commit()
}

/// Takes the service's lock file and "keeps it open" the wrong way: leak 3.
fn take_lock(dir: &Path) -> std::io::Result<()> {
    let lock = File::create(dir.join("orders.lock"))?;
    std::mem::forget(lock);
    Ok(())
}

/// A tiny line-based "database" on 127.0.0.1 that answers OK to anything.
fn start_database() -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().expect("clone socket");
                for line in BufReader::new(stream).lines() {
                    if line.is_err() || writeln!(writer, "OK").is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(addr)
}

fn main() -> std::io::Result<()> {
    let db = start_database()?;
    let dir: PathBuf = std::env::temp_dir().join(format!("leakwatch-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let service = Scope::new("order service");
    service.run(|| -> std::io::Result<()> {
        take_lock(&dir)?;
        place_order(db, &dir, "ada", 3)?;
        place_order(db, &dir, "grace", 0)?;
        place_order(db, &dir, "linus", 1)
    })?;

    match service.check_now() {
        Ok(()) => println!("no leaks"),
        Err(report) => {
            println!("{report}");
            println!("(this demo leaks on purpose; see crates/leakwatch/examples/demo.rs)");
        }
    }
    std::fs::remove_dir_all(&dir)
}
