//! The network benchmark's measurements, made alike against any HTTP server behind a port of
//! the host's loopback that QEMU forwards to a guest: a download of a large file (guest to
//! host), an upload of as many bytes (host to guest), and many small requests one after
//! another (one connection each), all timed on the host's clock. Every body received is kept
//! and checked, and its checksum passed through `black_box`, so nothing timed is skipped.

use crate::http_client;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// How long one exchange may stall.
const STALL: Duration = Duration::from_secs(120);

/// Where a server keeps what is measured.
#[derive(Debug, Clone)]
pub struct Routes {
    /// `GET` it: a body of the transfer's size.
    pub download: String,
    /// `POST` the transfer's bytes to it.
    pub upload: String,
    /// `GET` it: a small body.
    pub small: String,
}

/// What one server measured.
#[derive(Debug, Clone)]
pub struct Figures {
    /// The bytes of each transfer.
    pub bytes: u64,
    pub download: Duration,
    pub upload: Duration,
    /// Each small request's time, in order of size.
    pub latencies: Vec<Duration>,
}

fn megabytes_per_second(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / 1e6 / time.as_secs_f64().max(1e-9)
}

impl Figures {
    /// Guest-to-host throughput, MB/s.
    pub fn download_rate(&self) -> f64 {
        megabytes_per_second(self.bytes, self.download)
    }

    /// Host-to-guest throughput, MB/s.
    pub fn upload_rate(&self) -> f64 {
        megabytes_per_second(self.bytes, self.upload)
    }

    /// The latency below which `fraction` of the requests fell (0.5: the median).
    pub fn latency(&self, fraction: f64) -> Duration {
        let Some(last) = self.latencies.len().checked_sub(1) else {
            return Duration::ZERO;
        };
        let at = ((last as f64) * fraction).round() as usize;
        self.latencies[at.min(last)]
    }
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash: u32, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// Measures the server at `port`: `bytes` down and up, then `requests` small requests.
///
/// # Errors
/// An exchange failed or a body has the wrong length; the sentence says which.
pub fn measure(port: u16, routes: &Routes, bytes: u64, requests: usize) -> Result<Figures, String> {
    let started = Instant::now();
    let answer = http_client::get(port, &routes.download, STALL)?;
    let download = started.elapsed();
    if answer.status != 200 || answer.body.len() as u64 != bytes {
        return Err(format!(
            "GET {}: status {}, {} bytes, not 200 and {bytes}",
            routes.download,
            answer.status,
            answer.body.len()
        ));
    }
    black_box(fnv1a(&answer.body));

    let fill = |offset: u64, chunk: &mut [u8]| {
        for (index, byte) in chunk.iter_mut().enumerate() {
            *byte = (offset + index as u64) as u8;
        }
    };
    let started = Instant::now();
    let answer = http_client::post(port, &routes.upload, bytes, fill, STALL)?;
    let upload = started.elapsed();
    if answer.status != 200 || !answer.text().contains(&bytes.to_string()) {
        return Err(format!(
            "POST {}: status {}, answer {:?}: not 200 with the byte count {bytes}",
            routes.upload,
            answer.status,
            answer.text()
        ));
    }
    black_box(&answer.body);

    let mut latencies = Vec::with_capacity(requests);
    for request in 0..requests {
        let started = Instant::now();
        let answer = http_client::get(port, &routes.small, STALL)
            .map_err(|error| format!("small request {request}: {error}"))?;
        latencies.push(started.elapsed());
        if answer.status != 200 {
            return Err(format!(
                "small request {request}: GET {}: status {}",
                routes.small, answer.status
            ));
        }
        black_box(fnv1a(&answer.body));
    }
    latencies.sort();
    Ok(Figures {
        bytes,
        download,
        upload,
        latencies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A server on the loopback that answers `count` requests: a GET with `body`, a POST
    /// with the length of what was posted.
    fn serve(count: usize, body: Vec<u8>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for _ in 0..count {
                let (mut connection, _) = listener.accept().unwrap();
                let mut received = Vec::new();
                let mut buffer = [0u8; 65536];
                let head_end = loop {
                    if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at + 4;
                    }
                    let count = connection.read(&mut buffer).unwrap();
                    received.extend_from_slice(&buffer[..count]);
                };
                let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
                let answer = if head.starts_with("POST") {
                    let length: usize = head
                        .lines()
                        .find_map(|line| line.strip_prefix("Content-Length: "))
                        .unwrap()
                        .parse()
                        .unwrap();
                    let mut got = received.len() - head_end;
                    while got < length {
                        got += connection.read(&mut buffer).unwrap();
                    }
                    format!("{got}\n").into_bytes()
                } else {
                    body.clone()
                };
                let head = format!(
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n",
                    answer.len()
                );
                connection.write_all(head.as_bytes()).unwrap();
                connection.write_all(&answer).unwrap();
            }
        });
        port
    }

    fn routes() -> Routes {
        Routes {
            download: "/big".into(),
            upload: "/up".into(),
            small: "/small".into(),
        }
    }

    #[test]
    fn a_server_is_measured_both_ways_and_by_small_requests() {
        let port = serve(2 + 20, vec![9u8; 300_000]);
        let figures = measure(port, &routes(), 300_000, 20).unwrap();
        assert_eq!(figures.latencies.len(), 20);
        assert!(figures.latencies.windows(2).all(|pair| pair[0] <= pair[1]));
        assert!(figures.latency(0.5) <= figures.latency(0.99));
        assert!(figures.download_rate() > 0.0 && figures.upload_rate() > 0.0);
    }

    #[test]
    fn a_download_of_the_wrong_length_is_an_error() {
        let port = serve(1, vec![9u8; 1000]);
        let error = measure(port, &routes(), 300_000, 1).unwrap_err();
        assert!(error.contains("1000 bytes, not 200 and 300000"), "{error}");
    }

    #[test]
    fn percentiles_come_from_the_sorted_times() {
        let figures = Figures {
            bytes: 1,
            download: Duration::from_secs(1),
            upload: Duration::from_secs(2),
            latencies: (1..=100).map(Duration::from_millis).collect(),
        };
        assert_eq!(figures.latency(0.5), Duration::from_millis(51));
        assert_eq!(figures.latency(0.99), Duration::from_millis(99));
        assert_eq!(figures.download_rate(), 1e-6);
    }
}
