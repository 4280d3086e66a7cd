// Everyday std code for threads, files and sockets, included by `drop_in.rs`
// under std's names and under leakwatch's: it must compile and pass under
// both with nothing but the imports changed.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A fresh path under the temp dir, unique to this process, module and
/// test, so the two inclusions never share a file.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "leakwatch-drop-in-{}-{}",
        std::process::id(),
        module_path!().replace("::", "-")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn thread_builder_names_sizes_and_spawns() {
    let handle = thread::Builder::new()
        .name("worker".into())
        .stack_size(256 * 1024)
        .spawn(|| std::thread::current().name().map(str::to_owned))
        .unwrap();
    assert_eq!(handle.join().unwrap().as_deref(), Some("worker"));

    let id = 7;
    let numbered = thread::Builder::new()
        .name(format!("worker-{id}"))
        .spawn(move || id * 6)
        .expect("failed to spawn thread");
    assert_eq!(numbered.join().unwrap(), 42);

    let name = String::from("owned-name");
    let owned: std::thread::JoinHandle<()> =
        thread::Builder::new().name(name).spawn(|| {}).unwrap();
    owned.join().unwrap();
}

#[test]
fn thread_spawn_join_and_channels() {
    let handles: Vec<std::thread::JoinHandle<u64>> =
        (0..4u64).map(|i| thread::spawn(move || i * i)).collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 14);

    let (tx, rx) = std::sync::mpsc::channel();
    let producer = thread::spawn(move || {
        for i in 0..3 {
            tx.send(i).unwrap();
        }
    });
    assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
    producer.join().unwrap();

    let panicked = thread::spawn(|| panic!("on purpose")).join();
    assert!(panicked.is_err());
}

#[test]
fn thread_scope_borrows_and_nests() {
    let mut rows = vec![1, 2, 3];
    let sum: i32 = rows.iter().sum();
    let (doubled, nested) = thread::scope(|s| {
        let doubled = s.spawn(|| rows.iter().map(|r| r * 2).collect::<Vec<_>>());
        // A scoped thread spawning through the scope it was lent.
        let outer = s.spawn(|| s.spawn(|| sum + 1).join().unwrap());
        (doubled.join().unwrap(), outer.join().unwrap())
    });
    assert_eq!(doubled, [2, 4, 6]);
    assert_eq!(nested, 7);

    thread::scope(|s| {
        thread::Builder::new()
            .name("appender".into())
            .spawn_scoped(s, || rows.push(4))
            .unwrap()
            .join()
            .unwrap();
    });
    assert_eq!(rows, [1, 2, 3, 4]);
}

/// A helper generic over paths, as std's constructors are.
fn open_config<P: AsRef<Path>>(path: P) -> io::Result<File> {
    File::open(path)
}

#[test]
fn files_create_write_open_read() -> io::Result<()> {
    let path = scratch("orders.csv");
    let mut file = File::create(&path)?;
    file.write_all(b"id,name\n")?;
    writeln!(file, "1,ada")?;
    file.sync_all()?;
    drop(file);

    let mut text = String::new();
    File::open(&path)?.read_to_string(&mut text)?;
    assert_eq!(text, "id,name\n1,ada\n");

    let lines: Vec<String> = BufReader::new(open_config(&path)?)
        .lines()
        .collect::<io::Result<_>>()?;
    assert_eq!(lines, ["id,name", "1,ada"]);

    // Every argument type std's `AsRef<Path>` takes, turbofish included.
    let as_str = path.to_str().unwrap();
    File::open(as_str)?;
    File::open(format!("{}", path.display()))?;
    File::open(path.as_path())?;
    File::open(path.clone())?;
    File::open::<&Path>(&path)?;
    File::create::<&PathBuf>(&scratch("turbofish.txt"))?;

    let missing = File::open(scratch("missing.txt")).unwrap_err();
    assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    Ok(())
}

#[test]
fn files_options_chains() -> io::Result<()> {
    let path = scratch("audit.log");
    let mut log = OpenOptions::new().append(true).create(true).open(&path)?;
    log.write_all(b"one\n")?;
    let mut log = File::options().append(true).open(&path)?;
    log.write_all(b"two\n")?;
    drop(log);
    assert_eq!(std::fs::read_to_string(&path)?, "one\ntwo\n");

    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    let mut file = options.open(&path)?;
    file.seek(SeekFrom::Start(4))?;
    let mut rest = String::new();
    file.read_to_string(&mut rest)?;
    assert_eq!(rest, "two\n");

    let fresh = scratch("fresh.txt");
    OpenOptions::new().write(true).create_new(true).open(&fresh)?;
    let exists = OpenOptions::new().write(true).create_new(true).open(&fresh);
    assert_eq!(exists.unwrap_err().kind(), io::ErrorKind::AlreadyExists);
    let newer = scratch("newer.txt");
    File::create_new(&newer)?;
    assert!(File::create_new(&newer).is_err());

    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let secret = scratch("secret.key");
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&secret)?;
        assert_eq!(file.metadata()?.permissions().mode() & 0o777, 0o600);
    }
    Ok(())
}

#[test]
fn files_through_shared_references_and_std_methods() -> io::Result<()> {
    let path = scratch("shared.txt");
    let file = File::create(&path)?;
    (&file).write_all(b"abcdef")?;
    file.set_len(3)?;
    assert_eq!(file.metadata()?.len(), 3);
    let clone: File = file.try_clone()?;
    drop(file);
    drop(clone);

    let file = File::open(&path)?;
    (&file).seek(SeekFrom::Start(1))?;
    let mut buf = String::new();
    (&file).read_to_string(&mut buf)?;
    assert_eq!(buf, "bc");

    let copy = scratch("copy.txt");
    let copied = io::copy(&mut File::open(&path)?, &mut File::create(&copy)?)?;
    assert_eq!(copied, 3);
    Ok(())
}

/// A helper generic over addresses, as std's constructors are.
fn dial<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
    TcpStream::connect(addr)
}

#[test]
fn tcp_bind_connect_accept_echo() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = thread::spawn(move || -> io::Result<Vec<u8>> {
        let (mut stream, _peer) = listener.accept()?;
        let mut got = Vec::new();
        stream.read_to_end(&mut got)?;
        stream.write_all(&got)?;
        Ok(got)
    });

    let mut client = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    client.set_nodelay(true)?;
    client.write_all(b"ping")?;
    client.shutdown(Shutdown::Write)?;
    let mut echoed = String::new();
    BufReader::new(&client).read_line(&mut echoed)?;
    assert_eq!(echoed, "ping");
    assert_eq!(server.join().unwrap()?, b"ping");
    Ok(())
}

#[test]
fn tcp_addresses_in_every_form() -> io::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let addr: SocketAddr = listener.local_addr()?;
    let twin: TcpListener = listener.try_clone()?;
    assert_eq!(twin.local_addr()?, addr);

    let by_string = TcpStream::connect(format!("127.0.0.1:{}", addr.port()))?;
    let by_str_port = TcpStream::connect(("127.0.0.1", addr.port()))?;
    let by_addr = TcpStream::connect(addr)?;
    let by_slice = TcpStream::connect(&[addr][..])?;
    let by_helper = dial(addr)?;
    let by_timeout = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    let clone: TcpStream = by_addr.try_clone()?;
    assert_eq!(clone.peer_addr()?, addr);

    let accepted: Vec<TcpStream> = listener.incoming().take(6).collect::<io::Result<_>>()?;
    assert_eq!(accepted.len(), 6);
    let (first, peer) = (&accepted[0], by_string.local_addr()?);
    assert_eq!(first.peer_addr()?, peer);
    drop((by_str_port, by_slice, by_helper, by_timeout));

    listener.set_nonblocking(true)?;
    let idle = listener.accept().map(|_| ()).unwrap_err();
    assert_eq!(idle.kind(), io::ErrorKind::WouldBlock);
    Ok(())
}

#[test]
fn udp_send_and_receive() -> io::Result<()> {
    let server = UdpSocket::bind("127.0.0.1:0")?;
    let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    server.set_read_timeout(Some(Duration::from_secs(10)))?;

    client.send_to(b"hello", server.local_addr()?)?;
    let mut buf = [0; 16];
    let (n, from) = server.recv_from(&mut buf)?;
    assert_eq!((&buf[..n], from), (&b"hello"[..], client.local_addr()?));

    let reply: UdpSocket = server.try_clone()?;
    reply.connect(from)?;
    reply.send(b"world")?;
    let n = client.recv(&mut buf)?;
    assert_eq!(&buf[..n], b"world");
    Ok(())
}
