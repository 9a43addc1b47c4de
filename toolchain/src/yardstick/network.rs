//! The network yardstick: Debian's Linux booted by the same QEMU command as Cella, on the same
//! card (virtio-net, modern, through the IOMMU) and the same QEMU user network with the same
//! forward of a host port to the guest's port 80, serving with busybox `httpd`: a 16 MiB file
//! (`/big`, zeros), a 100-byte one (`/small`), and a CGI script (`/cgi-bin/upload`) that reads
//! a posted body and answers its length. `/init` sets the address QEMU's DHCP would give
//! (10.0.2.15/24) by hand, starts the server and prints [`READY`]; the host measures and then
//! ends the boot.

use super::initramfs::Initramfs;
use super::report;

/// What `/init` prints once the server listens.
pub const READY: &str = "yardstick: network ready";
/// The files the server gives and where the upload goes.
pub const DOWNLOAD_PATH: &str = "/big";
pub const SMALL_PATH: &str = "/small";
pub const UPLOAD_PATH: &str = "/cgi-bin/upload";
/// The size of `/big`, in MiB.
pub const DOWNLOAD_MIB: u64 = 16;
/// The size of `/small`, in bytes.
pub const SMALL_BYTES: u64 = 100;

/// The upload script: busybox `httpd` gives it the posted body on standard input.
const UPLOAD_SCRIPT: &str = "#!/bin/sh\n\
     count=$(/bin/busybox head -c \"$CONTENT_LENGTH\" | /bin/busybox wc -c)\n\
     printf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' \"$count\"\n";

/// `/init`: loads `modules` (from `/modules/NAME.ko`, in order), brings the card up with
/// the address QEMU's DHCP gives, writes the files and starts `httpd` on port 80.
pub fn init_script(modules: &[&str]) -> String {
    let error = report::ERROR;
    format!(
        "#!/bin/busybox sh\n\
         /bin/busybox mount -t devtmpfs devtmpfs /dev\n\
         /bin/busybox mount -t sysfs sysfs /sys\n\
         /bin/busybox mount -t proc proc /proc\n\
         for module in {}; do\n\
         \x20 /bin/busybox insmod /modules/$module.ko || echo \"{error} insmod $module.ko failed\"\n\
         done\n\
         waited=0\n\
         while [ ! -e /sys/class/net/eth0 ] && [ $waited -lt 100 ]; do\n\
         \x20 /bin/busybox sleep 0.1; waited=$((waited + 1))\n\
         done\n\
         /bin/busybox ip link set lo up\n\
         /bin/busybox ip link set eth0 up || echo \"{error} no eth0 after loading virtio_net\"\n\
         /bin/busybox ip addr add 10.0.2.15/24 dev eth0\n\
         /bin/busybox dd if=/dev/zero of=/www{DOWNLOAD_PATH} bs=1048576 count={DOWNLOAD_MIB} 2>/dev/null\n\
         /bin/busybox dd if=/dev/zero of=/www{SMALL_PATH} bs={SMALL_BYTES} count=1 2>/dev/null\n\
         /bin/busybox httpd -p 80 -h /www || echo \"{error} httpd did not start\"\n\
         echo \"{READY}\"\n\
         while true; do /bin/busybox sleep 3600; done\n",
        modules.join(" "),
    )
}

/// The initramfs: `/init`, `/bin/busybox` (and `/bin/sh`), `/dev/console`, the web root
/// with its upload script, and each of `modules` (name, contents) as `/modules/NAME.ko`.
pub fn build_initramfs(busybox: &[u8], modules: &[(&str, Vec<u8>)]) -> Initramfs {
    let mut archive = Initramfs::busybox_system(busybox, modules);
    archive
        .directory("www", 0o755)
        .directory("www/cgi-bin", 0o755)
        .file(
            &format!("www{UPLOAD_PATH}"),
            0o755,
            UPLOAD_SCRIPT.as_bytes().to_vec(),
        );
    let names: Vec<&str> = modules.iter().map(|(name, _)| *name).collect();
    archive.file("init", 0o755, init_script(&names).into_bytes());
    archive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_brings_the_card_up_before_the_server_and_says_when_it_listens() {
        let archive = build_initramfs(
            b"BUSYBOX",
            &[("virtio_pci", b"P".to_vec()), ("virtio_net", b"N".to_vec())],
        );
        let init = archive.entries().last().unwrap();
        assert_eq!(init.name, "init");
        let script = String::from_utf8(init.data.clone()).unwrap();
        assert!(
            script.contains("for module in virtio_pci virtio_net; do"),
            "{script}"
        );
        let up = script.find("ip link set eth0 up").unwrap();
        let address = script.find("ip addr add 10.0.2.15/24 dev eth0").unwrap();
        let server = script.find("httpd -p 80 -h /www").unwrap();
        let ready = script.find(READY).unwrap();
        assert!(script.find("insmod").unwrap() < up, "{script}");
        assert!(
            up < address && address < server && server < ready,
            "{script}"
        );
        assert!(
            script.contains("of=/www/big bs=1048576 count=16"),
            "{script}"
        );
        let upload = archive
            .entries()
            .iter()
            .find(|entry| entry.name == "www/cgi-bin/upload")
            .unwrap();
        assert_eq!(upload.mode, 0o100_755);
        let upload = String::from_utf8(upload.data.clone()).unwrap();
        assert!(upload.contains("head -c \"$CONTENT_LENGTH\""), "{upload}");
    }

    /// The upload script, run by the host's sh with busybox's applets, counts what it is
    /// given and answers a CGI head.
    #[test]
    fn the_upload_script_answers_the_length_of_the_body() {
        if !std::path::Path::new("/bin/busybox").exists() {
            eprintln!("skipped: no /bin/busybox on this machine");
            return;
        }
        use std::io::Write;
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(UPLOAD_SCRIPT)
            .env("CONTENT_LENGTH", "5000")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&[7u8; 6000]).unwrap();
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "Content-Type: text/plain\r\n\r\n5000\n"
        );
    }
}
