//! `build-info.txt`, the first entry of every boot archive: tool version, source commit,
//! build date and kernel profile, so a boot log can be traced back to the tree it came from.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// What goes into `build-info.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// Version of the `cella` tool that packed the archive.
    pub tool_version: String,
    /// `git rev-parse HEAD` of the source tree, with `-dirty` if it has uncommitted changes;
    /// `unknown` when git or the repository is unavailable.
    pub commit: String,
    /// Seconds since the Unix epoch (honours `SOURCE_DATE_EPOCH` for reproducible builds).
    pub built_unix_seconds: u64,
    /// Kernel Cargo profile, e.g. `release`.
    pub kernel_profile: String,
    /// Kernel target triple.
    pub kernel_target: String,
}

impl BuildInfo {
    /// Collects the build information for the tree at `workspace_root`.
    pub fn collect(workspace_root: &Path, kernel_profile: &str, kernel_target: &str) -> Self {
        BuildInfo {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            commit: git_commit(workspace_root).unwrap_or_else(|| "unknown".to_owned()),
            built_unix_seconds: build_time(),
            kernel_profile: kernel_profile.to_owned(),
            kernel_target: kernel_target.to_owned(),
        }
    }

    /// The text of `build-info.txt`: `key: value` lines.
    pub fn to_text(&self) -> String {
        format!(
            "cella build info\n\
             tool: cella {}\n\
             commit: {}\n\
             built: {}\n\
             kernel profile: {}\n\
             kernel target: {}\n",
            self.tool_version,
            self.commit,
            format_utc(self.built_unix_seconds),
            self.kernel_profile,
            self.kernel_target,
        )
    }
}

fn build_time() -> u64 {
    if let Some(seconds) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|text| text.trim().parse().ok())
    {
        return seconds;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

fn git_commit(workspace_root: &Path) -> Option<String> {
    let head = Command::new("git")
        .arg("-C")
        .arg(workspace_root)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())?;
    let commit = String::from_utf8(head.stdout).ok()?.trim().to_owned();
    let status = Command::new("git")
        .arg("-C")
        .arg(workspace_root)
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|output| output.status.success());
    let dirty = status.is_some_and(|output| !output.stdout.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn format_utc(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let seconds_of_day = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn text_names_every_field() {
        let info = BuildInfo {
            tool_version: "0.1.0".into(),
            commit: "abc".into(),
            built_unix_seconds: 0,
            kernel_profile: "release".into(),
            kernel_target: "x86_64-unknown-none".into(),
        };
        let text = info.to_text();
        for expected in [
            "tool: cella 0.1.0",
            "commit: abc",
            "built: 1970-01-01T00:00:00Z",
            "kernel profile: release",
            "kernel target: x86_64-unknown-none",
        ] {
            assert!(text.contains(expected), "{text}");
        }
    }
}
