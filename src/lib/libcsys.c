/* libcsys.c: which system calls each glibc 2.36 function may make on x86_64 Linux (a table). */
#include <stddef.h>
#include <string.h>

#include "elfsyms.h"

/*
 * Where this comes from: glibc 2.36 as Debian 12 ships it, on x86_64 -- the
 * wrappers of sysdeps/unix/sysv/linux (syscalls.list and the C wrappers),
 * libio, nss, resolv, nptl and posix/spawni.c, written down from knowledge
 * of those sources (they could not be fetched while this was written) and
 * checked against strace on a Debian 12 host: small programs calling about
 * 280 of these functions one by one between marker writes, `strace -f`.
 * What the traces settled, where the sources alone mislead:
 *
 *   stat, lstat, fstat, fstatat    newfstatat (fstat is fstatat(fd, "", AT_EMPTY_PATH))
 *   __xstat, __lxstat, __fxstat    stat, lstat, fstat (the pre-2.33 compat symbols)
 *   select, pselect                pselect6 (never select)
 *   pipe                           pipe2;  creat  creat;  epoll_create  epoll_create
 *   renameat2 with flags 0         renameat;  mkfifo, mknod  mknodat
 *   utime, utimes                  utimensat;  settimeofday  clock_settime
 *   adjtimex                       clock_adjtime;  getloadavg  sysinfo
 *   gethostname, getdomainname     uname;  faccessat  faccessat2
 *   sleep, usleep, nanosleep       clock_nanosleep
 *   fork                           clone (never fork);  vfork  vfork
 *   posix_spawn, system, popen     clone3 (clone where the kernel lacks it), execve in the child
 *   malloc                         getrandom on first use (tcache), brk, mmap above 128 KiB
 *   raise, abort                   tgkill (with gettid, getpid)
 *   pthread_exit, cancellation     dlopen of libgcc_s.so.1 to unwind
 *   __stack_chk_fail               writev of the message, then abort
 *   semop                          semtimedop;  clock  clock_gettime (a CPU clock: no vDSO)
 *
 * A list holds what the function may do for its own work, on the paths an
 * ordinary program takes, including its helpers' (stdio's buffer set-up
 * fstat, isatty's ioctl on a terminal; getaddrinfo reading /etc files,
 * asking nscd, loading NSS modules, querying DNS). It leaves out:
 *   - the allocator: anything that allocates may also make malloc's calls
 *     (malloc's and free's entries list them once);
 *   - the vDSO: time, gettimeofday, clock_gettime and sched_getcpu usually
 *     make no system call at all; the entries name the call glibc falls back
 *     to when there is no vDSO;
 *   - free's rare read of /proc/sys/vm/overcommit_memory (openat, read,
 *     close) when a thread arena's heap shrinks;
 *   - the calls made by code the function calls back (qsort's comparator,
 *     atexit handlers), by signal handlers, and by the NSS modules that
 *     /etc/nsswitch.conf names (libnss_systemd.so.2 on Debian 12 blocks
 *     signals and its libcap reads capabilities with prctl): the NSS
 *     entries list the loading of a module, not what it does.
 * A function that only computes (strlen, memcpy, snprintf, qsort, strtol,
 * inet_pton) is absent: libcsys_lookup returns NULL for it. Names are the
 * kernel's as libseccomp spells them for x86_64.
 */

/* Calls shared by families of functions. */
#define C_MALLOC "brk", "mmap", "munmap", "mprotect", "getrandom", "sched_getaffinity"
#define C_STDIO_OUT "write", "newfstatat", "ioctl"
#define C_STDIO_IN "read", "newfstatat", "ioctl", "write"
#define C_SPAWN                                                                                    \
	"clone3", "clone", "mmap", "munmap", "rt_sigprocmask", "rt_sigaction", "prlimit64",        \
	    "dup2", "execve", "exit_group"
#define C_ABORT "rt_sigprocmask", "rt_sigaction", "gettid", "getpid", "tgkill"
#define C_SETXID "getpid", "tgkill", "futex", "rt_sigreturn"
#define C_NSS                                                                                      \
	"openat", "newfstatat", "read", "pread64", "lseek", "close", "socket", "connect", "mmap",  \
	    "mprotect", "munmap", "futex"
#define C_DNS                                                                                      \
	"sendto", "recvfrom", "sendmmsg", "recvmsg", "poll", "bind", "getsockname", "setsockopt",  \
	    "ioctl", "uname"
#define C_NETLINK "socket", "bind", "getsockname", "sendto", "recvmsg", "close"
#define C_UTMP                                                                                     \
	"access", "openat", "read", "write", "lseek", "fcntl", "alarm", "rt_sigaction", "close"
#define C_TZ "openat", "newfstatat", "read", "lseek", "close"
#define C_LOCALE "openat", "newfstatat", "read", "mmap", "munmap", "close", "futex"
#define C_DLOPEN "openat", "newfstatat", "read", "pread64", "mmap", "mprotect", "munmap", "close"

#define N(...) ((const char *const[]){__VA_ARGS__, NULL})
#define S(...) N(__VA_ARGS__)

/* Functions that behave alike share a row. */
struct row {
	const char *const *funcs;
	const char *const *calls;
};

static const struct row table[] = {
    /* memory */
    {N("malloc", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc", "memalign",
       "valloc", "pvalloc"),
     S(C_MALLOC)},
    {N("free", "cfree"), S("brk", "madvise", "mmap", "munmap")},
    {N("mmap", "mmap64"), S("mmap")},
    {N("munmap"), S("munmap")},
    {N("mprotect", "pkey_mprotect"), S("mprotect")},
    {N("madvise", "posix_madvise"), S("madvise")},
    {N("mremap"), S("mremap")},
    {N("msync"), S("msync")},
    {N("mlock"), S("mlock")},
    {N("mlock2"), S("mlock2")},
    {N("munlock"), S("munlock")},
    {N("mlockall"), S("mlockall")},
    {N("munlockall"), S("munlockall")},
    {N("mincore"), S("mincore")},
    {N("memfd_create"), S("memfd_create")},
    {N("brk", "sbrk"), S("brk")},
    {N("__libc_malloc", "__libc_calloc", "__libc_realloc", "__libc_memalign"), S(C_MALLOC)},
    {N("__libc_free"), S("brk", "madvise", "mmap", "munmap")},
    {N("malloc_trim"), S("brk", "madvise", "munmap")},
    {N("__mmap"), S("mmap")},
    {N("__munmap"), S("munmap")},
    {N("__madvise"), S("madvise")},
    {N("__sbrk"), S("brk")},

    /* plain file I/O */
    {N("open", "open64", "__open_2", "__open64_2", "openat", "openat64", "__openat_2",
       "__openat64_2"),
     S("openat")},
    {N("creat", "creat64"), S("creat")},
    {N("read", "__read_chk"), S("read")},
    {N("write"), S("write")},
    {N("pread", "pread64", "__pread_chk", "__pread64_chk"), S("pread64")},
    {N("pwrite", "pwrite64"), S("pwrite64")},
    {N("readv"), S("readv")},
    {N("writev"), S("writev")},
    {N("preadv", "preadv64"), S("preadv")},
    {N("pwritev", "pwritev64"), S("pwritev")},
    {N("preadv2", "preadv64v2"), S("preadv2")},
    {N("pwritev2", "pwritev64v2"), S("pwritev2")},
    {N("close"), S("close")},
    {N("close_range"), S("close_range")},
    {N("closefrom"), S("close_range", "getdents64", "openat", "close")},
    {N("lseek", "lseek64"), S("lseek")},
    {N("dup"), S("dup")},
    {N("dup2"), S("dup2")},
    {N("dup3"), S("dup3")},
    {N("pipe", "pipe2"), S("pipe2")},
    {N("fcntl", "fcntl64", "__fcntl"), S("fcntl")},
    {N("ioctl"), S("ioctl")},
    {N("flock"), S("flock")},
    {N("lockf", "lockf64"), S("fcntl")},
    {N("fsync"), S("fsync")},
    {N("fdatasync"), S("fdatasync")},
    {N("sync"), S("sync")},
    {N("syncfs"), S("syncfs")},
    {N("sync_file_range"), S("sync_file_range")},
    {N("ftruncate", "ftruncate64"), S("ftruncate")},
    {N("truncate", "truncate64"), S("truncate")},
    {N("fallocate", "fallocate64"), S("fallocate")},
    {N("posix_fallocate", "posix_fallocate64"),
     S("fallocate", "newfstatat", "fstatfs", "pread64", "pwrite64")},
    {N("posix_fadvise", "posix_fadvise64"), S("fadvise64")},
    {N("readahead"), S("readahead")},
    {N("sendfile", "sendfile64"), S("sendfile")},
    {N("splice"), S("splice")},
    {N("tee"), S("tee")},
    {N("vmsplice"), S("vmsplice")},
    {N("copy_file_range"), S("copy_file_range")},
    {N("isatty"), S("ioctl")},

    /* metadata */
    {N("stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "fstatat", "fstatat64"),
     S("newfstatat")},
    {N("__xstat", "__xstat64"), S("stat")},
    {N("__lxstat", "__lxstat64"), S("lstat")},
    {N("__fxstat", "__fxstat64"), S("fstat")},
    {N("__fxstatat", "__fxstatat64"), S("newfstatat")},
    {N("statx"), S("statx")},
    {N("statfs", "statfs64", "statvfs", "statvfs64"), S("statfs")},
    {N("fstatfs", "fstatfs64", "fstatvfs", "fstatvfs64"), S("fstatfs")},
    {N("access"), S("access")},
    {N("faccessat"), S("faccessat2", "faccessat", "newfstatat")},
    {N("euidaccess", "eaccess"),
     S("access", "newfstatat", "getuid", "geteuid", "getgid", "getegid")},
    {N("chmod"), S("chmod")},
    {N("fchmod"), S("fchmod")},
    {N("fchmodat", "lchmod"), S("fchmodat", "openat", "newfstatat", "chmod", "close")},
    {N("chown"), S("chown")},
    {N("lchown"), S("lchown")},
    {N("fchown"), S("fchown")},
    {N("fchownat"), S("fchownat")},
    {N("utime", "utimes", "lutimes", "futimes", "futimesat", "futimens", "utimensat"),
     S("utimensat")},
    {N("link"), S("link")},
    {N("linkat"), S("linkat")},
    {N("symlink"), S("symlink")},
    {N("symlinkat"), S("symlinkat")},
    {N("readlink", "__readlink_chk"), S("readlink")},
    {N("readlinkat", "__readlinkat_chk"), S("readlinkat")},
    {N("rename"), S("rename")},
    {N("renameat"), S("renameat")},
    {N("renameat2"), S("renameat2", "renameat")},
    {N("unlink"), S("unlink")},
    {N("unlinkat"), S("unlinkat")},
    {N("remove"), S("unlink", "rmdir")},
    {N("mkdir"), S("mkdir")},
    {N("mkdirat"), S("mkdirat")},
    {N("rmdir"), S("rmdir")},
    {N("mknod", "mknodat", "mkfifo", "mkfifoat", "__xmknod", "__xmknodat"), S("mknodat")},
    {N("realpath", "__realpath_chk", "canonicalize_file_name"), S("readlink", "getcwd")},
    {N("getcwd", "__getcwd_chk", "getwd"), S("getcwd")},
    {N("get_current_dir_name"), S("getcwd", "newfstatat")},
    {N("chdir"), S("chdir")},
    {N("fchdir"), S("fchdir")},
    {N("chroot"), S("chroot")},
    {N("umask"), S("umask")},
    {N("mkstemp", "mkstemp64", "mkostemp", "mkostemp64", "mkstemps", "mkstemps64", "mkostemps",
       "mkostemps64"),
     S("openat")},
    {N("mkdtemp"), S("mkdir")},
    {N("mktemp", "tmpnam", "tmpnam_r", "tempnam"), S("newfstatat", "getrandom")},
    {N("tmpfile", "tmpfile64"), S("openat", "fcntl", "unlink", "newfstatat")},
    {N("getxattr"), S("getxattr")},
    {N("lgetxattr"), S("lgetxattr")},
    {N("fgetxattr"), S("fgetxattr")},
    {N("setxattr"), S("setxattr")},
    {N("lsetxattr"), S("lsetxattr")},
    {N("fsetxattr"), S("fsetxattr")},
    {N("listxattr"), S("listxattr")},
    {N("llistxattr"), S("llistxattr")},
    {N("flistxattr"), S("flistxattr")},
    {N("removexattr"), S("removexattr")},
    {N("lremovexattr"), S("lremovexattr")},
    {N("fremovexattr"), S("fremovexattr")},
    {N("pathconf"), S("statfs")},
    {N("fpathconf"), S("fstatfs")},
    {N("ftok"), S("newfstatat")},

    /* directories */
    {N("opendir"), S("openat", "newfstatat")},
    {N("fdopendir"), S("newfstatat", "fcntl")},
    {N("readdir", "readdir64", "readdir_r", "readdir64_r", "getdents64"), S("getdents64")},
    {N("closedir"), S("close")},
    {N("rewinddir", "seekdir"), S("lseek")},
    {N("scandir", "scandir64", "scandirat", "scandirat64"),
     S("openat", "newfstatat", "getdents64", "close")},
    {N("glob", "glob64"), S("openat", "newfstatat", "getdents64", "close")},
    {N("ftw", "ftw64", "nftw", "nftw64"),
     S("newfstatat", "openat", "getdents64", "close", "fchdir", "chdir", "getcwd")},
    {N("fts_open", "fts_read", "fts_children", "fts_close", "fts64_open", "fts64_read",
       "fts64_children", "fts64_close"),
     S("newfstatat", "openat", "getdents64", "close", "fchdir", "fstatfs")},

    /* stdio */
    {N("printf", "vprintf", "__printf_chk", "__vprintf_chk", "fprintf", "vfprintf", "__fprintf_chk",
       "__vfprintf_chk", "puts", "fputs", "fputs_unlocked", "putchar", "putchar_unlocked", "fputc",
       "fputc_unlocked", "putc", "putc_unlocked", "_IO_putc", "fwrite", "fwrite_unlocked", "putw",
       "fputws", "putwchar", "fputwc", "putwc", "wprintf", "fwprintf", "vfwprintf",
       "__fwprintf_chk", "__wprintf_chk"),
     S(C_STDIO_OUT)},
    {N("dprintf", "vdprintf", "__dprintf_chk", "__vdprintf_chk"), S(C_STDIO_OUT, "lseek")},
    {N("fflush", "fflush_unlocked", "_IO_flush_all"), S("write", "lseek")},
    {N("perror"), S("write", "dup", "fcntl", "close")},
    {N("psignal", "psiginfo"), S("write")},
    {N("warn", "warnx", "vwarn", "vwarnx"), S("write")},
    {N("err", "errx", "verr", "verrx", "error", "error_at_line"), S("write", "exit_group")},
    {N("getchar", "getchar_unlocked", "getc", "getc_unlocked", "_IO_getc", "fgetc",
       "fgetc_unlocked", "fgets", "fgets_unlocked", "__fgets_chk", "__fgets_unlocked_chk", "fread",
       "fread_unlocked", "__fread_chk", "__fread_unlocked_chk", "getline", "getdelim", "__getdelim",
       "scanf", "fscanf", "vscanf", "vfscanf", "__isoc99_scanf", "__isoc99_fscanf",
       "__isoc99_vscanf", "__isoc99_vfscanf", "__isoc23_scanf", "__isoc23_fscanf", "getw", "fgetws",
       "getwchar", "fgetwc", "getwc", "gets"),
     S(C_STDIO_IN)},
    {N("fopen", "fopen64"), S("openat")},
    {N("fdopen"), S("fcntl")},
    {N("freopen", "freopen64"), S("openat", "dup3", "close", "write", "lseek")},
    {N("fclose"), S("write", "lseek", "close")},
    {N("fcloseall"), S("write", "lseek", "close")},
    {N("fseek", "fseeko", "fseeko64", "rewind", "fsetpos", "fsetpos64"), S("lseek", "write")},
    {N("ftell", "ftello", "ftello64", "fgetpos", "fgetpos64"), S("lseek")},
    {N("setvbuf"), S("newfstatat", "ioctl")},
    {N("popen"), S(C_SPAWN, "pipe2", "fcntl")},
    {N("pclose"), S("wait4", "close")},
    {N("system"), S(C_SPAWN, "wait4")},
    {N("posix_spawn", "posix_spawnp"),
     S(C_SPAWN, "openat", "close", "chdir", "fchdir", "setsid", "setpgid")},
    {N("__overflow"), S(C_STDIO_OUT)},
    {N("__uflow", "__underflow"), S(C_STDIO_IN)},
    {N("getopt", "getopt_long", "getopt_long_only"), S("write")},
    {N("herror"), S("write")},
    {N("setmntent"), S("openat")},
    {N("getmntent", "getmntent_r"), S("newfstatat", "read")},
    {N("endmntent"), S("close")},
    {N("getusershell", "setusershell"), S("openat", "newfstatat", "read", "close")},

    /* processes */
    {N("fork", "__fork"), S("clone", "set_robust_list", "futex")},
    {N("_Fork"), S("clone", "set_robust_list")},
    {N("vfork", "__vfork"), S("vfork")},
    {N("clone"), S("clone")},
    {N("clone3"), S("clone3")},
    {N("execve", "execv", "execvp", "execvpe", "execl", "execle", "execlp"), S("execve")},
    {N("fexecve"), S("execveat", "execve")},
    {N("execveat"), S("execveat")},
    {N("daemon"), S("clone", "set_robust_list", "setsid", "exit_group", "openat", "newfstatat",
		    "dup2", "close", "chdir")},
    {N("wait", "waitpid", "wait3", "wait4"), S("wait4")},
    {N("waitid"), S("waitid")},
    {N("exit"), S("exit_group", "write", "lseek")},
    {N("_exit", "_Exit"), S("exit_group")},
    {N("quick_exit"), S("exit_group")},
    {N("__libc_start_main"), S("exit_group", "write", "lseek")},
    {N("abort"), S(C_ABORT)},
    {N("__assert_fail", "__assert_perror_fail", "__assert"), S("write", "mmap", C_ABORT)},
    {N("__stack_chk_fail", "__fortify_fail", "__chk_fail", "__fdelt_warn"),
     S("writev", "mmap", C_ABORT)},
    {N("getpid"), S("getpid")},
    {N("getppid"), S("getppid")},
    {N("gettid"), S("gettid")},
    {N("getuid"), S("getuid")},
    {N("geteuid"), S("geteuid")},
    {N("getgid"), S("getgid")},
    {N("getegid"), S("getegid")},
    {N("getresuid"), S("getresuid")},
    {N("getresgid"), S("getresgid")},
    {N("setuid"), S("setuid", C_SETXID)},
    {N("setgid"), S("setgid", C_SETXID)},
    {N("seteuid", "setreuid", "setresuid"), S("setresuid", "setreuid", C_SETXID)},
    {N("setegid", "setregid", "setresgid"), S("setresgid", "setregid", C_SETXID)},
    {N("setfsuid"), S("setfsuid")},
    {N("setfsgid"), S("setfsgid")},
    {N("setgroups"), S("setgroups", C_SETXID)},
    {N("getgroups"), S("getgroups")},
    {N("initgroups"), S(C_NSS, "setgroups", "getpid", "tgkill", "rt_sigreturn")},
    {N("getgrouplist"), S(C_NSS)},
    {N("setsid"), S("setsid")},
    {N("getsid"), S("getsid")},
    {N("setpgid", "setpgrp"), S("setpgid")},
    {N("getpgid"), S("getpgid")},
    {N("getpgrp"), S("getpgrp")},
    {N("getpriority"), S("getpriority")},
    {N("setpriority"), S("setpriority")},
    {N("nice"), S("getpriority", "setpriority")},
    {N("getrlimit", "getrlimit64", "setrlimit", "setrlimit64", "prlimit", "prlimit64"),
     S("prlimit64")},
    {N("getrusage"), S("getrusage")},
    {N("times"), S("times")},
    {N("prctl"), S("prctl")},
    {N("arch_prctl"), S("arch_prctl")},
    {N("personality"), S("personality")},
    {N("capget"), S("capget")},
    {N("capset"), S("capset")},
    {N("ptrace"), S("ptrace")},
    {N("process_vm_readv"), S("process_vm_readv")},
    {N("process_vm_writev"), S("process_vm_writev")},
    {N("pidfd_open"), S("pidfd_open")},
    {N("pidfd_send_signal"), S("pidfd_send_signal")},
    {N("pidfd_getfd"), S("pidfd_getfd")},
    {N("unshare"), S("unshare")},
    {N("setns"), S("setns")},
    {N("mount"), S("mount")},
    {N("umount", "umount2"), S("umount2")},
    {N("swapon"), S("swapon")},
    {N("swapoff"), S("swapoff")},
    {N("reboot"), S("reboot")},
    {N("acct"), S("acct")},
    {N("quotactl"), S("quotactl")},
    {N("init_module"), S("init_module")},
    {N("delete_module"), S("delete_module")},
    {N("uname", "gethostname", "getdomainname"), S("uname")},
    {N("sethostname"), S("sethostname")},
    {N("setdomainname"), S("setdomainname")},
    {N("sysinfo", "getloadavg"), S("sysinfo")},
    {N("get_nprocs", "get_nprocs_conf"), S("openat", "read", "close", "sched_getaffinity")},
    {N("sysconf", "__sysconf"),
     S("prlimit64", "sysinfo", "sched_getaffinity", "openat", "read", "close")},
    {N("sched_yield"), S("sched_yield")},
    {N("sched_getaffinity", "pthread_getaffinity_np"), S("sched_getaffinity")},
    {N("sched_setaffinity", "pthread_setaffinity_np"), S("sched_setaffinity")},
    {N("sched_setscheduler"), S("sched_setscheduler")},
    {N("sched_getscheduler"), S("sched_getscheduler")},
    {N("sched_setparam"), S("sched_setparam")},
    {N("sched_getparam"), S("sched_getparam")},
    {N("sched_get_priority_max"), S("sched_get_priority_max")},
    {N("sched_get_priority_min"), S("sched_get_priority_min")},
    {N("sched_getcpu", "getcpu"), S("getcpu")},
    {N("getrandom", "getentropy"), S("getrandom")},
    {N("arc4random", "arc4random_buf", "arc4random_uniform"),
     S("getrandom", "openat", "read", "close", "poll")},
    {N("getdtablesize"), S("prlimit64")},
    {N("group_member"), S("getgroups")},
    {N("lckpwdf"), S("openat", "fcntl", "rt_sigaction", "rt_sigprocmask", "alarm", "close")},
    {N("ulckpwdf"), S("close")},
    {N("gethostid"), S(C_DNS, C_NSS)},
    {N("klogctl"), S("syslog")},
    {N("vhangup"), S("vhangup")},
    {N("iopl"), S("iopl")},
    {N("ioperm"), S("ioperm")},
    {N("sched_rr_get_interval"), S("sched_rr_get_interval")},
    {N("name_to_handle_at"), S("name_to_handle_at")},
    {N("open_by_handle_at"), S("open_by_handle_at")},
    {N("getcontext", "setcontext", "swapcontext"), S("rt_sigprocmask")},
    {N("backtrace"), S(C_DLOPEN)},
    {N("backtrace_symbols_fd"), S("write")},
    {N("__libc_fatal"), S("writev", "mmap", C_ABORT)},
    {N("semget"), S("semget")},
    {N("semop", "semtimedop"), S("semtimedop")},
    {N("semctl"), S("semctl")},
    {N("msgget"), S("msgget")},
    {N("msgsnd"), S("msgsnd")},
    {N("msgrcv"), S("msgrcv")},
    {N("msgctl"), S("msgctl")},
    {N("shmget"), S("shmget")},
    {N("shmat"), S("shmat")},
    {N("shmdt"), S("shmdt")},
    {N("shmctl"), S("shmctl")},

    /* time */
    {N("time"), S("time")},
    {N("gettimeofday"), S("gettimeofday")},
    {N("clock_gettime", "clock_gettime64", "timespec_get"), S("clock_gettime")},
    {N("clock_getres"), S("clock_getres")},
    {N("clock_settime", "settimeofday", "stime"), S("clock_settime")},
    {N("adjtimex", "ntp_adjtime", "clock_adjtime"), S("clock_adjtime")},
    {N("adjtime"), S("clock_adjtime")},
    {N("localtime", "localtime_r", "ctime", "ctime_r", "mktime", "timelocal", "tzset"), S(C_TZ)},
    {N("nanosleep", "usleep", "sleep", "clock_nanosleep", "thrd_sleep"), S("clock_nanosleep")},
    {N("alarm"), S("alarm")},
    {N("ualarm", "setitimer"), S("setitimer")},
    {N("getitimer"), S("getitimer")},
    {N("timer_create"), S("timer_create")},
    {N("timer_settime"), S("timer_settime")},
    {N("timer_gettime"), S("timer_gettime")},
    {N("timer_delete"), S("timer_delete")},
    {N("timer_getoverrun"), S("timer_getoverrun")},
    {N("timerfd_create"), S("timerfd_create")},
    {N("timerfd_settime"), S("timerfd_settime")},
    {N("timerfd_gettime"), S("timerfd_gettime")},
    {N("clock"), S("clock_gettime")},
    {N("ntp_gettime", "ntp_gettimex"), S("clock_adjtime")},

    /* signals */
    {N("signal", "sigaction", "sysv_signal", "bsd_signal", "__sysv_signal"),
     S("rt_sigaction", "rt_sigreturn")},
    {N("sigset"), S("rt_sigaction", "rt_sigprocmask", "rt_sigreturn")},
    {N("sigprocmask", "pthread_sigmask", "sigblock", "sigsetmask", "siggetmask", "sighold",
       "sigrelse"),
     S("rt_sigprocmask")},
    {N("sigsuspend"), S("rt_sigsuspend")},
    {N("pause"), S("pause")},
    {N("sigwait", "sigwaitinfo", "sigtimedwait"), S("rt_sigtimedwait")},
    {N("sigpending"), S("rt_sigpending")},
    {N("sigaltstack"), S("sigaltstack")},
    {N("kill", "killpg"), S("kill")},
    {N("sigqueue"), S("rt_sigqueueinfo")},
    {N("tgkill"), S("tgkill")},
    {N("raise", "gsignal"), S("gettid", "getpid", "tgkill", "rt_sigprocmask")},
    {N("pthread_kill"), S("gettid", "getpid", "tgkill", "rt_sigprocmask")},
    {N("signalfd"), S("signalfd4")},
    {N("sigsetjmp", "__sigsetjmp", "siglongjmp", "longjmp"), S("rt_sigprocmask")},
    {N("__longjmp_chk"), S("rt_sigprocmask", "sigaltstack")},
    {N("siginterrupt"), S("rt_sigaction")},

    /* polling and events */
    {N("poll", "__poll_chk"), S("poll")},
    {N("ppoll", "__ppoll_chk"), S("ppoll")},
    {N("select", "pselect"), S("pselect6")},
    {N("epoll_create"), S("epoll_create")},
    {N("epoll_create1"), S("epoll_create1")},
    {N("epoll_ctl"), S("epoll_ctl")},
    {N("epoll_wait"), S("epoll_wait")},
    {N("epoll_pwait"), S("epoll_pwait")},
    {N("epoll_pwait2"), S("epoll_pwait2")},
    {N("eventfd"), S("eventfd2")},
    {N("eventfd_read"), S("read")},
    {N("eventfd_write"), S("write")},
    {N("inotify_init"), S("inotify_init")},
    {N("inotify_init1"), S("inotify_init1")},
    {N("inotify_add_watch"), S("inotify_add_watch")},
    {N("inotify_rm_watch"), S("inotify_rm_watch")},
    {N("fanotify_init"), S("fanotify_init")},
    {N("fanotify_mark"), S("fanotify_mark")},
    {N("__poll"), S("poll")},

    /* sockets */
    {N("socket"), S("socket")},
    {N("socketpair"), S("socketpair")},
    {N("bind"), S("bind")},
    {N("listen"), S("listen")},
    {N("accept"), S("accept")},
    {N("accept4"), S("accept4")},
    {N("connect"), S("connect")},
    {N("getsockname"), S("getsockname")},
    {N("getpeername"), S("getpeername")},
    {N("setsockopt"), S("setsockopt")},
    {N("getsockopt"), S("getsockopt")},
    {N("shutdown"), S("shutdown")},
    {N("sendto"), S("sendto")},
    {N("recvfrom"), S("recvfrom")},
    {N("sendmsg"), S("sendmsg")},
    {N("recvmsg"), S("recvmsg")},
    {N("sendmmsg"), S("sendmmsg")},
    {N("recvmmsg"), S("recvmmsg")},
    {N("send"), S("sendto")},
    {N("recv", "__recv_chk", "__recvfrom_chk"), S("recvfrom")},

    /* resolver and NSS */
    {N("getaddrinfo", "getnameinfo", "gethostbyname", "gethostbyname2", "gethostbyname_r",
       "gethostbyname2_r", "gethostbyaddr", "gethostbyaddr_r", "gethostent", "res_init",
       "__res_init", "res_query", "__res_query", "res_send", "__res_send", "sethostent",
       "endhostent", "res_search", "__res_search", "res_nquery", "__res_nquery", "res_nsearch",
       "__res_nsearch", "res_ninit", "__res_ninit"),
     S(C_DNS, C_NSS)},
    {N("getifaddrs", "if_nameindex"), S(C_NETLINK)},
    {N("if_nametoindex", "if_indextoname"), S("socket", "ioctl", "close")},
    {N("setservent", "endservent", "setprotoent", "endprotoent", "getnetbyname", "getnetbyaddr",
       "getnetent", "setnetent", "endnetent", "setspent", "endspent", "getrpcbyname",
       "getrpcbynumber", "getrpcent", "innetgr", "setnetgrent", "getnetgrent", "endnetgrent",
       "getservbyname", "getservbyname_r", "getservbyport", "getservbyport_r", "getservent",
       "getprotobyname", "getprotobyname_r", "getprotobynumber", "getprotobynumber_r",
       "getprotoent", "getpwnam", "getpwnam_r", "getpwuid", "getpwuid_r", "getpwent", "getpwent_r",
       "setpwent", "endpwent", "getgrnam", "getgrnam_r", "getgrgid", "getgrgid_r", "getgrent",
       "getgrent_r", "setgrent", "endgrent", "getspnam", "getspnam_r", "getspent"),
     S(C_NSS)},
    {N("getlogin", "getlogin_r"),
     S(C_UTMP, "newfstatat", "socket", "connect", "mmap", "mprotect", "munmap")},
    {N("getutent", "getutent_r", "setutent", "endutent", "getutid", "getutid_r", "getutline",
       "getutline_r", "pututline", "utmpname", "getutxent", "setutxent", "endutxent", "getutxid",
       "getutxline", "pututxline"),
     S(C_UTMP)},
    {N("syslog", "vsyslog", "__syslog_chk", "__vsyslog_chk"),
     S("socket", "connect", "sendto", "close", "getpid", "openat", "writev", "newfstatat", "read",
       "lseek")},
    {N("openlog"), S("socket", "connect", "close")},
    {N("closelog"), S("close")},

    /* locale and messages */
    {N("setlocale", "newlocale", "strerror", "strerror_r", "__xpg_strerror_r", "strsignal",
       "gettext", "dgettext", "dcgettext", "ngettext", "dngettext", "dcngettext", "catopen"),
     S(C_LOCALE)},
    {N("iconv_open"), S(C_DLOPEN)},

    /* threads */
    {N("pthread_create"),
     S("clone3", "clone", "mmap", "mprotect", "munmap", "madvise", "rt_sigprocmask", "rt_sigaction",
       "set_robust_list", "rseq", "futex", "exit")},
    {N("pthread_join", "pthread_timedjoin_np", "pthread_tryjoin_np", "pthread_clockjoin_np"),
     S("futex", "munmap", "madvise")},
    {N("pthread_exit", "pthread_cancel"), S(C_DLOPEN, "futex", "exit", "exit_group", "madvise",
					    "rt_sigprocmask", "rt_sigaction", "getpid", "tgkill")},
    {N("pthread_mutex_lock", "pthread_mutex_unlock", "pthread_mutex_trylock",
       "pthread_mutex_timedlock", "pthread_mutex_clocklock", "pthread_cond_wait",
       "pthread_cond_timedwait", "pthread_cond_clockwait", "pthread_cond_signal",
       "pthread_cond_broadcast", "pthread_rwlock_rdlock", "pthread_rwlock_wrlock",
       "pthread_rwlock_unlock", "pthread_rwlock_timedrdlock", "pthread_rwlock_timedwrlock",
       "pthread_barrier_wait", "pthread_once", "sem_wait", "sem_timedwait", "sem_clockwait",
       "sem_post", "call_once", "mtx_lock", "mtx_timedlock", "mtx_unlock", "cnd_wait",
       "cnd_timedwait", "cnd_signal", "cnd_broadcast"),
     S("futex")},
    {N("pthread_setname_np"), S("prctl", "openat", "write", "close")},
    {N("pthread_getname_np"), S("prctl", "openat", "read", "close")},
    {N("pthread_setschedparam"), S("sched_setscheduler")},
    {N("pthread_getschedparam"), S("sched_getscheduler", "sched_getparam")},
    {N("pthread_getattr_np"), S("openat", "read", "close", "prlimit64", "sched_getaffinity")},
    {N("thrd_create"),
     S("clone3", "clone", "mmap", "mprotect", "munmap", "rt_sigprocmask", "futex")},
    {N("sem_open"),
     S("openat", "newfstatat", "getrandom", "write", "mmap", "link", "unlink", "close")},
    {N("sem_close"), S("munmap")},
    {N("sem_unlink", "shm_unlink"), S("unlink")},
    {N("shm_open"), S("openat")},
    {N("mq_open"), S("mq_open")},
    {N("mq_unlink"), S("mq_unlink")},
    {N("mq_close"), S("close")},
    {N("mq_send", "mq_timedsend"), S("mq_timedsend")},
    {N("mq_receive", "mq_timedreceive"), S("mq_timedreceive")},
    {N("mq_notify"), S("mq_notify")},
    {N("mq_getattr", "mq_setattr"), S("mq_getsetattr")},
    {N("dlopen", "dlmopen"), S(C_DLOPEN)},
    {N("dlclose"), S("munmap")},

    /* terminals */
    {N("tcgetattr", "tcsetattr", "tcflush", "tcdrain", "tcflow", "tcsendbreak", "tcgetpgrp",
       "tcsetpgrp", "tcgetsid"),
     S("ioctl")},
    {N("ttyname", "ttyname_r"),
     S("ioctl", "readlink", "newfstatat", "openat", "getdents64", "close")},
    {N("posix_openpt", "getpt"), S("openat")},
    {N("grantpt", "unlockpt", "ptsname", "ptsname_r"), S("ioctl")},
    {N("openpty"), S("openat", "ioctl", "close")},
    {N("login_tty"), S("setsid", "ioctl", "dup2", "close")},
    {N("forkpty"), S("openat", "ioctl", "close", "clone", "set_robust_list", "setsid", "dup2")},
    {N("getpass"), S("openat", "ioctl", "read", "write", "close")},
};

const char *const *libcsys_lookup(const char *fname)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		for (const char *const *f = table[i].funcs; *f; f++)
			if (!strcmp(*f, fname))
				return table[i].calls;
	return NULL;
}

const char *libcsys_func(size_t n)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		for (const char *const *f = table[i].funcs; *f; f++)
			if (n-- == 0)
				return *f;
	return NULL;
}
