/* cdp recovery, file-level browse: the sandbox the child parses guest
 * data in.
 *
 * The child was forked before the store was opened and holds nothing of
 * it.  Here it closes every descriptor but its socket (renumbered 3) and
 * stderr, becomes nobody when it was root, drops every capability, sets
 * no-new-privileges and non-dumpable, dies with its parent, takes
 * resource limits that make a runaway parser end (no files, no
 * processes, bounded memory and CPU), and then installs a seccomp filter
 * that leaves it:
 *
 *   read, readv     on the socket only
 *   write, writev   on the socket and on stderr (assertion messages)
 *   sendmsg         on the socket
 *   mmap, mprotect  never with PROT_EXEC
 *   munmap, mremap, brk, madvise, exit, exit_group, rt_sigreturn,
 *   rt_sigprocmask, futex, clock_gettime, gettimeofday, time, getrandom
 *
 * Anything else kills it (SECCOMP_RET_KILL_PROCESS): it cannot open a
 * file, make a socket, signal another process or run a program, so a
 * parser that a hostile file system took over can only send the parent
 * messages, which the parent checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "recovery/files/files-internal.h"

#if defined(__x86_64__)
#define SANDBOX_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH AUDIT_ARCH_AARCH64
#else
#error "the file browse sandbox knows x86_64 and aarch64 only"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

#define SOCK_FD 3
#define NOBODY 65534

#define STMT(code, k) ((struct sock_filter) BPF_STMT (code, k))
#define JUMP(code, k, jt, jf) ((struct sock_filter) BPF_JUMP (code, k, jt, jf))
#define LOAD(field) STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, field))
#define RET(v) STMT (BPF_RET | BPF_K, v)
#define KILL RET (SECCOMP_RET_KILL_PROCESS)
#define ALLOW RET (SECCOMP_RET_ALLOW)
#define ARG0 offsetof (struct seccomp_data, args[0])
#define ARG2 offsetof (struct seccomp_data, args[2])

struct prog {
  struct sock_filter f[96];
  unsigned short n;
};

static void
emit (struct prog *p, struct sock_filter s)
{
  if (p->n < sizeof p->f / sizeof p->f[0])
    p->f[p->n] = s;
  p->n++;
}

/* nr allowed when its first argument is fd (or fd2, if >= 0). */
static void
allow_on_fd (struct prog *p, int nr, int fd, int fd2)
{
  emit (p, JUMP (BPF_JMP | BPF_JEQ | BPF_K, (unsigned) nr, 0, 5));
  emit (p, STMT (BPF_LD | BPF_W | BPF_ABS, ARG0));
  emit (p, JUMP (BPF_JMP | BPF_JEQ | BPF_K, (unsigned) fd, 2, 0));
  emit (p, JUMP (BPF_JMP | BPF_JEQ | BPF_K, (unsigned) (fd2 >= 0 ? fd2 : fd), 1, 0));
  emit (p, KILL);
  emit (p, ALLOW);
}

/* nr allowed unless its third argument (prot) asks for PROT_EXEC. */
static void
allow_no_exec (struct prog *p, int nr)
{
  emit (p, JUMP (BPF_JMP | BPF_JEQ | BPF_K, (unsigned) nr, 0, 4));
  emit (p, STMT (BPF_LD | BPF_W | BPF_ABS, ARG2));
  emit (p, JUMP (BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 1, 0));
  emit (p, ALLOW);
  emit (p, KILL);
}

static void
allow (struct prog *p, int nr)
{
  emit (p, JUMP (BPF_JMP | BPF_JEQ | BPF_K, (unsigned) nr, 0, 1));
  emit (p, ALLOW);
}

/* nr fails with ENOSYS rather than killing the reader. */
static void
refuse (struct prog *p, int nr)
{
  emit (p, JUMP (BPF_JMP | BPF_JEQ | BPF_K, (unsigned) nr, 0, 1));
  emit (p, RET (SECCOMP_RET_ERRNO | ENOSYS));
}

static int
install_filter (void)
{
  static const int plain[] = {
    SYS_munmap, SYS_mremap, SYS_brk, SYS_madvise, SYS_exit, SYS_exit_group,
    SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_futex, SYS_clock_gettime,
    SYS_gettimeofday, SYS_getrandom,
#ifdef SYS_time
    SYS_time,
#endif
  };
  struct prog p = { .n = 0 };
  struct sock_fprog fp;

  emit (&p, LOAD (arch));
  emit (&p, JUMP (BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0));
  emit (&p, KILL);
  emit (&p, LOAD (nr));
  /* glibc's qsort asks for the memory size (sysinfo) before it sorts
   * more than a few KiB, and copes without the answer. */
  refuse (&p, SYS_sysinfo);
  allow_on_fd (&p, SYS_read, SOCK_FD, -1);
  allow_on_fd (&p, SYS_readv, SOCK_FD, -1);
  allow_on_fd (&p, SYS_write, SOCK_FD, 2);
  allow_on_fd (&p, SYS_writev, SOCK_FD, 2);
  allow_on_fd (&p, SYS_sendmsg, SOCK_FD, -1);
  allow_no_exec (&p, SYS_mmap);
  allow_no_exec (&p, SYS_mprotect);
  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
    allow (&p, plain[i]);
  emit (&p, KILL);
  if (p.n > sizeof p.f / sizeof p.f[0])
    return -E2BIG;
  fp = (struct sock_fprog) { .len = p.n, .filter = p.f };
  if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0 &&
      prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp) < 0)
    return -errno;
  return 0;
}

/* Only the socket (as SOCK_FD) and stderr stay open. */
static int
close_descriptors (int sock)
{
  if (sock != SOCK_FD && dup2 (sock, SOCK_FD) < 0)
    return -errno;
  close (0);
  close (1);
  if (syscall (SYS_close_range, SOCK_FD + 1, ~0u, 0) < 0)
    for (int fd = SOCK_FD + 1; fd < 65536; fd++)
      close (fd);
  return 0;
}

static int
drop_privileges (void)
{
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2] = { { 0 } };

  if (geteuid () == 0 || getuid () == 0) {
    if (setgroups (0, NULL) < 0 ||
        setresgid (NOBODY, NOBODY, NOBODY) < 0 ||
        setresuid (NOBODY, NOBODY, NOBODY) < 0)
      return -errno;
    if (getuid () == 0 || geteuid () == 0)
      return -EPERM;
  }
  if (syscall (SYS_capset, &hdr, data) < 0)
    return -errno;
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
      prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    return -errno;
  return 0;
}

static void
limit (int res, rlim_t v)
{
  struct rlimit rl = { v, v };

  setrlimit (res, &rl);
}

static void
set_limits (void)
{
  limit (RLIMIT_CORE, 0);
  limit (RLIMIT_FSIZE, 0);
  limit (RLIMIT_NOFILE, SOCK_FD + 1);
  limit (RLIMIT_NPROC, 0);
  limit (RLIMIT_CPU, 3600);
#ifndef SANITIZED                       /* the sanitizers map terabytes */
  limit (RLIMIT_AS, (rlim_t) 4 << 30);
#endif
}

int
files_sandbox_enter (int sock)
{
  pid_t parent = getppid ();
  int r;

  if (prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid () != parent)
    return -ESRCH;
  signal (SIGPIPE, SIG_DFL);
  if ((r = close_descriptors (sock)) < 0 || (r = drop_privileges ()) < 0)
    return r;
  set_limits ();
  return install_filter ();
}
