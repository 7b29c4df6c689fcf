//! `byoc serve`'s log writer: lines are appended to a buffer in memory, and a background thread
//! writes what has gathered in one system call per batch.
//!
//! Why not a channel to a writer thread (tracing-appender, which this replaced): that wakes
//! the writer for each line, and its receiver spins and yields while waiting. Profiled under
//! load on 2 cores, that thread took 14 % of the server's CPU (about 3 µs per call) and
//! lengthened the tail. Here a call costs one uncontended lock and a copy; the writer is woken
//! once per batch, when the buffer goes from empty to not empty, and then waits a short
//! window so a burst of calls becomes one write.
//!
//! A call never waits for stderr: when the reader is slow and the buffer reaches its limit,
//! further lines are dropped and counted ([`BatchedLog::dropped_lines`]) until the writer
//! catches up.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer lets lines gather after the first one of a batch: short enough that a
/// person watching the terminal sees a call's line at once.
pub const WINDOW: Duration = Duration::from_millis(10);

/// Most bytes held in memory waiting for the writer; beyond this, lines are dropped.
pub const LIMIT: usize = 1 << 20;

/// How long closing waits for the writer to write what is left.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

struct Shared {
    state: Mutex<State>,
    /// Signalled when the buffer stops being empty, and at close.
    ready: Condvar,
    /// Signalled by the writer when it has written everything after close.
    finished: Condvar,
    dropped: AtomicU64,
    limit: usize,
}

struct State {
    buf: Vec<u8>,
    closed: bool,
    done: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the buffer half-updated in a way that
        // matters for log lines: keep going rather than lose the log.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writing side, handed to the tracing subscriber. Each `write` is one formatted line
/// (tracing-subscriber formats an event into a buffer and writes it at once), so lines are
/// kept or dropped whole.
pub struct BatchedLog {
    shared: Arc<Shared>,
}

/// Stops the writer thread when dropped, after it has written everything still buffered, or
/// after [`SHUTDOWN_WAIT`] if the output does not take it (a pipe nobody reads): the process
/// must still be able to exit.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread over `out`, with a buffer of at most `limit` bytes.
pub fn start<W>(out: W, limit: usize, window: Duration) -> std::io::Result<(BatchedLog, FlushGuard)>
where
    W: Write + Send + 'static,
{
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            buf: Vec::new(),
            closed: false,
            done: false,
        }),
        ready: Condvar::new(),
        finished: Condvar::new(),
        dropped: AtomicU64::new(0),
        limit,
    });
    let thread = std::thread::Builder::new()
        .name("byoc-serve-log".into())
        .spawn({
            let shared = Arc::clone(&shared);
            move || write_batches(&shared, out, window)
        })?;
    Ok((
        BatchedLog {
            shared: Arc::clone(&shared),
        },
        FlushGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

fn write_batches<W: Write>(shared: &Shared, mut out: W, window: Duration) {
    let mut batch = Vec::new();
    loop {
        let mut state = shared.lock();
        while state.buf.is_empty() && !state.closed {
            state = shared
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.buf.is_empty() {
            // Closed, and everything is written.
            state.done = true;
            shared.finished.notify_all();
            return;
        }
        // Let a burst gather, unless the buffer is already half full (a fast burst must not
        // reach the limit while a reader that keeps up waits for the window to end).
        let half = shared.limit / 2;
        state = shared
            .ready
            .wait_timeout_while(state, window, |s| !s.closed && s.buf.len() < half)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        std::mem::swap(&mut state.buf, &mut batch);
        drop(state);
        // A reader that has gone away (EPIPE) or a full disk loses these lines; the server
        // goes on answering calls.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
    }
}

impl BatchedLog {
    /// Lines dropped because the buffer was full (or the writer had stopped).
    pub fn dropped_lines(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// A second handle on the same buffer (to read the dropped count after the subscriber
    /// took the first).
    pub fn handle(&self) -> BatchedLog {
        BatchedLog {
            shared: Arc::clone(&self.shared),
        }
    }

    fn append(&self, line: &[u8]) {
        let mut state = self.shared.lock();
        if state.closed || state.buf.len() + line.len() > self.shared.limit {
            drop(state);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let before = state.buf.len();
        state.buf.extend_from_slice(line);
        let half = self.shared.limit / 2;
        let wake = before == 0 || (before < half && state.buf.len() >= half);
        drop(state);
        // Only the first line of a batch wakes the writer (one wake-up per batch, not per
        // call), and the line that fills half the buffer ends its window early.
        if wake {
            self.shared.ready.notify_one();
        }
    }
}

/// What the subscriber writes each line through: a borrow of the buffer, so making one per
/// line costs nothing.
pub struct LineWriter<'a>(&'a BatchedLog);

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.0.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedLog {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(self)
    }
}

impl FlushGuard {
    /// Closes the log and waits up to `wait` for the rest to be written; false when the
    /// output did not take it in time (the writer thread is then left to the process's exit).
    pub fn finish(mut self, wait: Duration) -> bool {
        self.close(wait)
    }

    fn close(&mut self, wait: Duration) -> bool {
        let Some(thread) = self.thread.take() else {
            return true;
        };
        let mut state = self.shared.lock();
        state.closed = true;
        self.shared.ready.notify_one();
        let (state, _) = self
            .shared
            .finished
            .wait_timeout_while(state, wait, |s| !s.done)
            .unwrap_or_else(PoisonError::into_inner);
        let done = state.done;
        if !done {
            // What the output never took is lost: count it with the dropped lines.
            let left = state.buf.iter().filter(|&&b| b == b'\n').count() as u64;
            self.shared.dropped.fetch_add(left, Ordering::Relaxed);
        }
        drop(state);
        if done {
            let _ = thread.join();
        }
        done
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.close(SHUTDOWN_WAIT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use tracing_subscriber::fmt::MakeWriter as _;

    /// Collects what the writer thread writes, and counts its writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut sink = self.0.lock().unwrap();
            sink.0.extend_from_slice(buf);
            sink.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn line(log: &BatchedLog, text: &str) {
        log.make_writer().write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_the_guard_is_dropped() {
        let sink = Sink::default();
        let (log, guard) = start(sink.clone(), LIMIT, Duration::from_millis(50)).unwrap();
        let lines: Vec<String> = (0..1_000).map(|i| format!("line {i}\n")).collect();
        for l in &lines {
            line(&log, l);
        }
        drop(guard);
        let (written, writes) = sink.0.lock().unwrap().clone();
        assert_eq!(String::from_utf8(written).unwrap(), lines.concat());
        // Lines written within one window go out together, not one write each.
        assert!(writes < 100, "{writes} writes for 1,000 lines");
        assert_eq!(log.dropped_lines(), 0);
    }

    #[test]
    fn a_burst_of_half_the_limit_is_written_before_the_window_ends() {
        let sink = Sink::default();
        // A window far longer than the test: only the half-full wake-up can end it.
        let (log, guard) = start(sink.clone(), 1_000, Duration::from_secs(3_600)).unwrap();
        for i in 0..60 {
            line(&log, &format!("line {i:04}\n"));
        }
        for _ in 0..500 {
            if !sink.0.lock().unwrap().0.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(sink.0.lock().unwrap().0.len() >= 500);
        assert_eq!(log.dropped_lines(), 0);
        // Closing ends a window at once too.
        assert!(guard.finish(Duration::from_secs(60)));
        assert_eq!(sink.0.lock().unwrap().0.len(), 600);
    }

    #[test]
    fn a_line_reaches_the_output_without_waiting_for_more_lines() {
        let sink = Sink::default();
        let (log, _guard) = start(sink.clone(), LIMIT, Duration::from_millis(1)).unwrap();
        line(&log, "only line\n");
        // A liveness bound: the writer is woken by the first line, not by a full buffer.
        for _ in 0..500 {
            if !sink.0.lock().unwrap().0.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(sink.0.lock().unwrap().0, b"only line\n");
    }

    /// An output that blocks until told to go on: a terminal nobody scrolls, a full pipe.
    struct Stalled(mpsc::Receiver<()>, Sink);

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.recv();
            self.1.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_output_drops_whole_lines_and_counts_them_never_blocking_a_writer() {
        let (go, wait) = mpsc::channel();
        let sink = Sink::default();
        // Room for 10 lines of 10 bytes.
        let (log, guard) = start(Stalled(wait, sink.clone()), 100, Duration::ZERO).unwrap();
        line(&log, "first 000\n");
        // The writer takes the first line and blocks on the output.
        for _ in 0..500 {
            if log.shared.lock().buf.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for i in 0..25 {
            line(&log, &format!("line {i:04}\n"));
        }
        assert_eq!(log.dropped_lines(), 15);
        for _ in 0..10 {
            go.send(()).unwrap();
        }
        drop(go);
        drop(guard);
        let written = String::from_utf8(sink.0.lock().unwrap().0.clone()).unwrap();
        let expected: String = std::iter::once("first 000\n".to_string())
            .chain((0..10).map(|i| format!("line {i:04}\n")))
            .collect();
        assert_eq!(written, expected);
    }

    #[test]
    fn closing_gives_up_on_an_output_that_never_takes_the_rest() {
        let (go, wait) = mpsc::channel();
        let (log, guard) = start(Stalled(wait, Sink::default()), LIMIT, Duration::ZERO).unwrap();
        line(&log, "stuck\n");
        // The writer takes the first line and blocks on the output.
        for _ in 0..500 {
            if log.shared.lock().buf.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // A liveness bound, not a timing: without the limit this would wait forever.
        line(&log, "left 1\nleft 2\n");
        assert!(!guard.finish(Duration::from_millis(200)));
        // The lines still in memory are counted as dropped (the one being written is not).
        assert_eq!(log.dropped_lines(), 2);
        drop(go);
    }

    #[test]
    fn lines_after_the_guard_is_dropped_are_counted_as_dropped() {
        let sink = Sink::default();
        let (log, guard) = start(sink.clone(), LIMIT, Duration::ZERO).unwrap();
        drop(guard);
        line(&log, "late\n");
        assert_eq!(log.dropped_lines(), 1);
        assert!(sink.0.lock().unwrap().0.is_empty());
    }
}
