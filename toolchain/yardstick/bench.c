/*
 * The Linux yardstick of `cargo cella bench`: runs inside Debian's Linux
 * kernel, booted by the same QEMU command as Cella, from a busybox initramfs
 * (the tool builds it; see toolchain/src/yardstick/). Built on the host with
 * `gcc -static -O2`.
 *
 * Without arguments it runs the system benchmarks and prints one line per
 * figure, `yardstick: NAME VALUE ns` (/init prints `yardstick: done` once
 * everything ran). Two more modes serve the disk figures (/dev/vda):
 *
 *   bench time NAME BYTES PROGRAM ARGUMENTS...
 *       runs PROGRAM (dd), waits for it and prints
 *       `yardstick: NAME BYTES bytes in N ns`;
 *   bench random-read NAME DEVICE COUNT SECONDS
 *       reads 4 KiB at random 4 KiB-aligned offsets of DEVICE with O_DIRECT
 *       and pread, COUNT times or for SECONDS, whichever ends first, and
 *       prints `yardstick: NAME READS reads in N ns`.
 *
 * And two the file-system figures (a vfat volume mounted on /mnt):
 *
 *   bench files-write NAME DIRECTORY COUNT BYTES
 *       creates DIRECTORY, then creates and writes COUNT files of BYTES bytes
 *       each (DIRECTORY/fNNNN.bin, one open, write and close per file),
 *       then sync(); prints `yardstick: NAME COUNT files in N ns`;
 *   bench files-read NAME DIRECTORY COUNT BYTES
 *       reads those files back (open, read, close), then checks every byte;
 *       prints `yardstick: NAME COUNT files in N ns`.
 *
 * The files' bytes are made before the clock starts and checked after it
 * stops, so the figures time the file system, not the pattern.
 *
 * A failure prints `yardstick: error: ...` and exits 1. Every timed loop
 * keeps its results, so no work can be optimised away.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Rounds: the same counts as Cella's in-system benchmark where it has them. */
#define NULL_SYSCALL_ROUNDS 20000
#define ROUND_TRIP_ROUNDS 2000
#define FORK_ROUNDS 200
#define CRC_ROUNDS 8
#define CRC_LENGTH (64 * 1024)

/* Keeps `value` alive: the compiler must compute it (as Rust's black_box). */
#define KEEP(value) __asm__ volatile("" : : "r"(value) : "memory")

static uint64_t now_ns(void) {
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return (uint64_t)time.tv_sec * 1000000000u + (uint64_t)time.tv_nsec;
}

static void fail(const char *what) {
    printf("yardstick: error: %s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

static void report(const char *name, uint64_t nanoseconds) {
    printf("yardstick: %s %llu ns\n", name, (unsigned long long)nanoseconds);
    fflush(stdout);
}

/* A system call that does nothing the kernel can skip or cache. */
static void null_syscall(void) {
    uint64_t started = now_ns();
    long sum = 0;
    for (int round = 0; round < NULL_SYSCALL_ROUNDS; round++) {
        long parent = syscall(SYS_getppid);
        KEEP(parent);
        sum += parent;
    }
    KEEP(sum);
    report("null-syscall", (now_ns() - started) / NULL_SYSCALL_ROUNDS);
}

/* One byte to a second process through a pipe and back through another. */
static void pipe_round_trip(void) {
    int to_child[2], to_parent[2];
    if (pipe(to_child) != 0 || pipe(to_parent) != 0) fail("pipe");
    pid_t child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        char byte;
        while (read(to_child[0], &byte, 1) == 1) {
            byte++;
            if (write(to_parent[1], &byte, 1) != 1) break;
        }
        _exit(0);
    }
    close(to_child[0]);
    close(to_parent[1]);
    char byte = 0;
    uint64_t started = now_ns();
    for (int round = 0; round < ROUND_TRIP_ROUNDS; round++) {
        char sent = (char)round;
        if (write(to_child[1], &sent, 1) != 1) fail("pipe write");
        if (read(to_parent[0], &byte, 1) != 1) fail("pipe read");
        if (byte != (char)(sent + 1)) {
            errno = EPROTO;
            fail("pipe echo");
        }
    }
    uint64_t elapsed = now_ns() - started;
    close(to_child[1]);
    waitpid(child, NULL, 0);
    close(to_parent[0]);
    report("pipe-round-trip", elapsed / ROUND_TRIP_ROUNDS);
}

/* Two threads take turns on one futex word: 0 = the main thread's turn. */
static uint32_t turn;

static long futex(uint32_t *word, int operation, uint32_t value) {
    return syscall(SYS_futex, word, operation, value, NULL, NULL, 0);
}

static void wait_for_turn(uint32_t mine) {
    while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != mine) {
        futex(&turn, FUTEX_WAIT_PRIVATE, mine ^ 1);
    }
}

static void give_turn(uint32_t next) {
    __atomic_store_n(&turn, next, __ATOMIC_RELEASE);
    futex(&turn, FUTEX_WAKE_PRIVATE, 1);
}

static void *futex_partner(void *unused) {
    (void)unused;
    for (int round = 0; round < ROUND_TRIP_ROUNDS; round++) {
        wait_for_turn(1);
        give_turn(0);
    }
    return NULL;
}

static void futex_round_trip(void) {
    pthread_t partner;
    turn = 0;
    if (pthread_create(&partner, NULL, futex_partner, NULL) != 0) fail("pthread_create");
    uint64_t started = now_ns();
    for (int round = 0; round < ROUND_TRIP_ROUNDS; round++) {
        give_turn(1);
        wait_for_turn(0);
    }
    uint64_t elapsed = now_ns() - started;
    pthread_join(partner, NULL);
    report("futex-round-trip", elapsed / ROUND_TRIP_ROUNDS);
}

/* fork, the child exits at once, the parent waits for it. */
static void fork_exit_wait(void) {
    uint64_t started = now_ns();
    for (int round = 0; round < FORK_ROUNDS; round++) {
        pid_t child = fork();
        if (child < 0) fail("fork");
        if (child == 0) _exit(round & 0x7f);
        int status = 0;
        if (waitpid(child, &status, 0) != child) fail("waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != (round & 0x7f)) {
            errno = ECHILD;
            fail("child status");
        }
    }
    report("fork-exit-wait", (now_ns() - started) / FORK_ROUNDS);
}

/* CRC-32 (IEEE, table) of LCG bytes: the same function as Cella's
 * userland/src/crc32.rs `crc32_of_pattern`, so the results must match. */
static uint32_t crc_table[256];

static void build_crc_table(void) {
    for (uint32_t index = 0; index < 256; index++) {
        uint32_t value = index;
        for (int bit = 0; bit < 8; bit++) value = (value & 1) ? (value >> 1) ^ 0xedb88320u : value >> 1;
        crc_table[index] = value;
    }
}

static uint32_t crc32_of_pattern(size_t length) {
    uint32_t seed = 0x12345678u;
    uint32_t crc = ~0u;
    for (size_t index = 0; index < length; index++) {
        seed = seed * 1103515245u + 12345u;
        uint8_t byte = (uint8_t)(seed >> 16);
        crc = crc_table[(crc ^ byte) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

static void crc32_64k(void) {
    build_crc_table();
    volatile size_t length = CRC_LENGTH;
    uint64_t started = now_ns();
    uint32_t first = crc32_of_pattern(length);
    KEEP(first);
    for (int round = 1; round < CRC_ROUNDS; round++) {
        uint32_t value = crc32_of_pattern(length);
        KEEP(value);
        if (value != first) {
            errno = EIO;
            fail("CRC rounds disagree");
        }
    }
    uint64_t elapsed = (now_ns() - started) / CRC_ROUNDS;
    printf("yardstick: crc32-64k %llu ns (crc %08x)\n", (unsigned long long)elapsed, first);
    fflush(stdout);
}

/* Runs argv[0] (a full path) with its arguments and times it to its exit. */
static void time_program(const char *name, const char *bytes, char **argv) {
    uint64_t started = now_ns();
    pid_t child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        execv(argv[0], argv);
        printf("yardstick: error: %s: cannot run %s: %s\n", name, argv[0], strerror(errno));
        fflush(stdout);
        _exit(127);
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child) fail("waitpid");
    uint64_t elapsed = now_ns() - started;
    if (WIFSIGNALED(status)) {
        printf("yardstick: error: %s: %s was killed by signal %d\n", name, argv[0], WTERMSIG(status));
        fflush(stdout);
        exit(1);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("yardstick: error: %s: %s exited with status %d\n", name, argv[0], WEXITSTATUS(status));
        fflush(stdout);
        exit(1);
    }
    printf("yardstick: %s %s bytes in %llu ns\n", name, bytes, (unsigned long long)elapsed);
    fflush(stdout);
}

#define RANDOM_READ_SIZE 4096

/* 4 KiB reads at random aligned offsets, bypassing the page cache. */
static void random_read(const char *name, const char *device, long count, long seconds) {
    int file = open(device, O_RDONLY | O_DIRECT);
    if (file < 0) fail(device);
    off_t size = lseek(file, 0, SEEK_END);
    if (size < RANDOM_READ_SIZE) {
        errno = EINVAL;
        fail("the device is smaller than one read");
    }
    uint64_t blocks = (uint64_t)size / RANDOM_READ_SIZE;
    void *buffer = NULL;
    if (posix_memalign(&buffer, RANDOM_READ_SIZE, RANDOM_READ_SIZE) != 0) fail("posix_memalign");
    uint64_t seed = 0x9e3779b97f4a7c15u;
    uint64_t limit = (uint64_t)seconds * 1000000000u;
    uint64_t started = now_ns(), elapsed = 0;
    uint64_t sum = 0;
    long reads = 0;
    while (reads < count && elapsed < limit) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        off_t offset = (off_t)((seed >> 17) % blocks) * RANDOM_READ_SIZE;
        if (pread(file, buffer, RANDOM_READ_SIZE, offset) != RANDOM_READ_SIZE) fail("pread");
        sum += ((unsigned char *)buffer)[reads % RANDOM_READ_SIZE];
        reads++;
        elapsed = now_ns() - started;
    }
    KEEP(sum);
    free(buffer);
    close(file);
    printf("yardstick: %s %ld reads in %llu ns\n", name, reads, (unsigned long long)elapsed);
    fflush(stdout);
}

/* The byte at `offset` of file `number`: differs from file to file and sector to sector. */
static unsigned char file_byte(long number, long offset) {
    return (unsigned char)(number * 131 + offset * 7 + (offset >> 9));
}

static char *file_path(const char *directory, long number) {
    static char path[4096];
    if (snprintf(path, sizeof path, "%s/f%04ld.bin", directory, number) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        fail("files: the directory's name is too long");
    }
    return path;
}

static unsigned char *files_buffer(long count, long bytes) {
    if (count <= 0 || bytes <= 0 || count > 100000 || bytes > (64L << 20) / count + 1) {
        errno = EINVAL;
        fail("files: COUNT and BYTES must be positive and at most 64 MiB in all");
    }
    unsigned char *buffer = malloc((size_t)(count * bytes));
    if (buffer == NULL) fail("malloc");
    return buffer;
}

static void files_write(const char *name, const char *directory, long count, long bytes) {
    unsigned char *buffer = files_buffer(count, bytes);
    for (long number = 0; number < count; number++)
        for (long offset = 0; offset < bytes; offset++)
            buffer[number * bytes + offset] = file_byte(number, offset);
    uint64_t started = now_ns();
    if (mkdir(directory, 0755) != 0 && errno != EEXIST) fail(directory);
    for (long number = 0; number < count; number++) {
        const char *path = file_path(directory, number);
        int file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (file < 0) fail(path);
        long done = 0;
        while (done < bytes) {
            ssize_t wrote = write(file, buffer + number * bytes + done, (size_t)(bytes - done));
            if (wrote <= 0) fail(path);
            done += wrote;
        }
        if (close(file) != 0) fail(path);
    }
    sync();
    uint64_t elapsed = now_ns() - started;
    free(buffer);
    printf("yardstick: %s %ld files in %llu ns\n", name, count, (unsigned long long)elapsed);
    fflush(stdout);
}

static void files_read(const char *name, const char *directory, long count, long bytes) {
    unsigned char *buffer = files_buffer(count, bytes);
    uint64_t started = now_ns();
    for (long number = 0; number < count; number++) {
        const char *path = file_path(directory, number);
        int file = open(path, O_RDONLY);
        if (file < 0) fail(path);
        long done = 0;
        while (done < bytes) {
            ssize_t got = read(file, buffer + number * bytes + done, (size_t)(bytes - done));
            if (got < 0) fail(path);
            if (got == 0) {
                errno = EIO;
                fail("files: a file is shorter than it was written");
            }
            done += got;
        }
        if (close(file) != 0) fail(path);
    }
    uint64_t elapsed = now_ns() - started;
    for (long number = 0; number < count; number++)
        for (long offset = 0; offset < bytes; offset++)
            if (buffer[number * bytes + offset] != file_byte(number, offset)) {
                errno = EIO;
                fail("files: a file read back differs from what was written");
            }
    free(buffer);
    printf("yardstick: %s %ld files in %llu ns\n", name, count, (unsigned long long)elapsed);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc >= 5 && strcmp(argv[1], "time") == 0) {
        time_program(argv[2], argv[3], argv + 4);
        return 0;
    }
    if (argc == 6 && strcmp(argv[1], "random-read") == 0) {
        random_read(argv[2], argv[3], atol(argv[4]), atol(argv[5]));
        return 0;
    }
    if (argc == 6 && strcmp(argv[1], "files-write") == 0) {
        files_write(argv[2], argv[3], atol(argv[4]), atol(argv[5]));
        return 0;
    }
    if (argc == 6 && strcmp(argv[1], "files-read") == 0) {
        files_read(argv[2], argv[3], atol(argv[4]), atol(argv[5]));
        return 0;
    }
    if (argc != 1) {
        errno = EINVAL;
        fail("usage: bench | bench time NAME BYTES PROGRAM ARGS... | "
             "bench random-read NAME DEVICE COUNT SECONDS | "
             "bench files-write|files-read NAME DIRECTORY COUNT BYTES");
    }
    null_syscall();
    pipe_round_trip();
    futex_round_trip();
    fork_exit_wait();
    crc32_64k();
    return 0;
}
