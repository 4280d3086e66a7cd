//! `leakwatch top`: a live table of open items by kind and site, refreshed
//! like `top`, largest growth first.

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::{cursor, execute, queue, terminal};
use leakwatch_export::Capture;

use crate::source::Only;

pub fn run(
    url: &str,
    interval: Duration,
    once: bool,
    only: &Only,
    timeout: Duration,
) -> Result<(), String> {
    let read = || crate::source::read(url, timeout).map(|c| only.apply(&c));
    let title = format!("{url}{}", only.describe());
    let start = read()?;
    if once || !std::io::stdout().is_terminal() {
        for line in table(&title, &start, &start, &start, None, usize::MAX) {
            println!("{line}");
        }
        return Ok(());
    }
    let screen = Screen::enter().map_err(|e| format!("cannot use the terminal: {e}"))?;
    let (mut previous, mut current) = (start.clone(), start.clone());
    let mut status: Option<String> = None;
    loop {
        let rows = terminal::size().map_or(24, |(_, rows)| usize::from(rows));
        screen
            .draw(&table(
                &title,
                &start,
                &previous,
                &current,
                status.as_deref(),
                rows,
            ))
            .map_err(|e| format!("cannot draw: {e}"))?;
        let deadline = Instant::now() + interval;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if !event::poll(left).map_err(|e| format!("cannot read keys: {e}"))? {
                break;
            }
            if let Event::Key(key) = event::read().map_err(|e| format!("cannot read keys: {e}"))?
                && key.kind == KeyEventKind::Press
                && (matches!(key.code, KeyCode::Char('q') | KeyCode::Esc)
                    || (key.code == KeyCode::Char('c')
                        && key.modifiers.contains(KeyModifiers::CONTROL)))
            {
                return Ok(());
            }
        }
        match read() {
            Ok(next) => {
                previous = std::mem::replace(&mut current, next);
                status = None;
            }
            Err(e) => status = Some(e),
        }
    }
}

/// The alternate screen in raw mode, left as it was found when dropped
/// (on return, error or panic unwinding).
struct Screen;

impl Screen {
    fn enter() -> std::io::Result<Screen> {
        terminal::enable_raw_mode()?;
        let screen = Screen;
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide
        )?;
        Ok(screen)
    }

    fn draw(&self, lines: &[String]) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        queue!(
            out,
            cursor::MoveTo(0, 0),
            terminal::Clear(terminal::ClearType::All)
        )?;
        for line in lines {
            // Raw mode: a line feed does not return the carriage.
            write!(out, "{line}\r\n")?;
        }
        out.flush()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(
            std::io::stdout(),
            cursor::Show,
            terminal::LeaveAlternateScreen
        );
        let _ = terminal::disable_raw_mode();
    }
}

#[derive(Default)]
struct Row {
    now: usize,
    start: usize,
    previous: usize,
    oldest: Duration,
}

/// The screen: a title line naming `title` (the URL and the filters), a header, then a row per kind and site with
/// items now, ordered by growth since the first read; at most `height`
/// lines.
fn table(
    title: &str,
    start: &Capture,
    previous: &Capture,
    current: &Capture,
    status: Option<&str>,
    height: usize,
) -> Vec<String> {
    let mut rows: HashMap<(&str, String), Row> = HashMap::new();
    for e in current.entries() {
        let row = rows.entry((e.kind(), e.site().to_string())).or_default();
        row.now += 1;
        row.oldest = row.oldest.max(e.age());
    }
    for e in start.entries() {
        if let Some(row) = rows.get_mut(&(e.kind(), e.site().to_string())) {
            row.start += 1;
        }
    }
    for e in previous.entries() {
        if let Some(row) = rows.get_mut(&(e.kind(), e.site().to_string())) {
            row.previous += 1;
        }
    }
    let mut rows: Vec<_> = rows.into_iter().collect();
    let growth = |r: &Row| r.now as i64 - r.start as i64;
    rows.sort_by(|(ka, a), (kb, b)| {
        growth(b)
            .cmp(&growth(a))
            .then(b.now.cmp(&a.now))
            .then(ka.cmp(kb))
    });
    let mut lines = vec![
        format!(
            "leakwatch top  {title}  {} items at {} sites  (q quits){}",
            current.entries().len(),
            rows.len(),
            status.map(|s| format!("  [{s}]")).unwrap_or_default()
        ),
        format!(
            "{:>7} {:>7} {:>6} {:>9}  {:<12} {}",
            "LIVE", "GROWTH", "LAST", "OLDEST", "KIND", "SITE"
        ),
    ];
    for ((kind, site), row) in rows.iter().take(height.saturating_sub(2)) {
        lines.push(format!(
            "{:>7} {:>+7} {:>+6} {:>9}  {:<12} {}",
            row.now,
            growth(row),
            row.now as i64 - row.previous as i64,
            age(row.oldest),
            kind,
            site
        ));
    }
    lines
}

fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        1..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}
