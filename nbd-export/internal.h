/* cdp NBD server: internal declarations, grouped by defining file. */
#ifndef CDP_NBD_INTERNAL_H
#define CDP_NBD_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <gnutls/gnutls.h>

#include "common/vector.h"
#include "nbd-export/nbd-server.h"

#define DEFAULT_WORKERS             4
#define DEFAULT_MAX_INFLIGHT        64
#define DEFAULT_MAX_INFLIGHT_BYTES  (UINT64_C (128) << 20)
#define DEFAULT_MAX_CONNECTIONS     32
/* Connections refused for being one too many are logged this often. */
#define REFUSED_LOG_NS              (INT64_C (10) * 1000000000)
#define DEFAULT_PREF_BLOCK          4096
#define DEFAULT_MAX_BLOCK           (UINT32_C (32) << 20)
/* Largest max_block a backend may advertise (payloads are buffered). */
#define MAX_MAX_BLOCK               (UINT32_C (64) << 20)
/* Option payloads longer than this end the connection unread. */
#define MAX_OPTION_LEN              (64 * 1024)
/* Options one handshake may send before the server gives up on it. */
#define MAX_OPTIONS                 1024
/* A rejected WRITE payload up to this size is skipped; longer ones end
 * the connection (the spec allows that past 32 MiB). */
#define MAX_DISCARD                 (UINT32_C (64) << 20)
/* Descriptors one BLOCK_STATUS reply (or chunks one READ reply) holds. */
#define MAX_EXTENTS                 8192
/* Metadata context id of base:allocation. */
#define BASE_ALLOCATION_ID          1

/* ---- extents.c --------------------------------------------------------- */

struct extent {
  uint64_t offset;
  uint64_t length;
  uint32_t flags;
};
DEFINE_VECTOR_TYPE (extent_vector, struct extent)

struct nbd_extents {
  uint64_t start, end;          /* range being described */
  extent_vector v;
};

void extents_init (struct nbd_extents *e, uint64_t offset, uint32_t count);
void extents_reset (struct nbd_extents *e);
/* End of the described prefix (start if nothing was added). */
uint64_t extents_covered (const struct nbd_extents *e);

struct export_entry {
  char *name;
  char *description;
};
DEFINE_VECTOR_TYPE (export_vector, struct export_entry)

struct nbd_export_list {
  export_vector v;
};

void export_list_reset (struct nbd_export_list *l);

/* ---- server.c ---------------------------------------------------------- */

struct connection;
DEFINE_VECTOR_TYPE (connection_vector, struct connection *)

struct listener;
DEFINE_VECTOR_TYPE (listener_vector, struct listener *)

struct nbd_server {
  struct nbd_backend_ops ops;
  void *opaque;
  nbd_log_fn log;
  void *log_opaque;
  unsigned workers;
  unsigned max_inflight;
  uint64_t max_inflight_bytes;
  atomic_uint handshake_ms;     /* a client must finish haggling in time */
  atomic_bool shutting_down;
  struct nbd_tls *tls;          /* NULL: TCP is plain */
  unsigned max_connections;

  pthread_mutex_t lock;         /* guards everything below */
  pthread_cond_t cond;          /* a connection went idle or ended */
  bool shut_down;               /* nbd_server_shutdown has run */
  listener_vector listeners;
  connection_vector live;       /* connections being served */
  struct connection *finished;  /* ended, thread still to be joined */
  int wake_fd;                  /* eventfd: readable once shutting down */
  int64_t refused_log_ns;       /* when a refusal was last logged */
  unsigned refused;             /* refusals not logged since */
};

void server_log (struct nbd_server *srv, enum nbd_log_level level,
                 const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));
void server_vlog (struct nbd_server *srv, enum nbd_log_level level,
                  const char *fmt, va_list ap)
  __attribute__ ((format (printf, 3, 0)));
bool server_shutting_down (struct nbd_server *srv);
/* Add conn to the live set.  Errors: -ESHUTDOWN, -ENOMEM. */
int server_register (struct nbd_server *srv, struct connection *conn);
/* Move conn out of the live set: to the finished list if it has its own
 * thread, else just drop it (the serve_fd caller frees it). */
void server_unregister (struct nbd_server *srv, struct connection *conn);
/* Join and free every finished connection. */
void server_reap (struct nbd_server *srv);
/* Wake nbd_server_shutdown, which waits for connections to go idle. */
void server_notify (struct nbd_server *srv);

/* ---- sockets.c --------------------------------------------------------- */

struct listener {
  struct nbd_server *srv;
  int fd;
  char *unix_path;              /* to unlink, or NULL */
  pthread_t thread;
  bool has_thread;
};

void listener_stop (struct listener *l);

/* ---- connection.c ------------------------------------------------------ */

struct request;

struct connection {
  struct nbd_server *srv;
  int fd;
  bool is_socket;
  char peer[96];                /* for log messages */
  bool tls_wanted;              /* TCP on a server with TLS */
  gnutls_session_t tls;         /* once STARTTLS succeeded */
  bool tls_corked;              /* writer side: records held back */
  char *tls_in;                 /* reader side: bytes read ahead */
  size_t tls_in_start, tls_in_end;
  bool tls_refused;             /* a refusal was logged */
  bool past_end_said;           /* a write past the end was logged */
  int64_t deadline_ns;          /* handshake ends by then (0: no bound) */
  pthread_t thread;             /* reader thread, if has_thread */
  bool has_thread;
  struct connection *next_finished;

  /* Handshake state: reader thread only. */
  bool no_zeroes;
  bool structured;
  bool meta_selected;           /* base:allocation set for meta_export */
  char *meta_export;
  unsigned nr_options;

  /* The export, fixed once transmission starts. */
  void *handle;
  bool is_open;
  struct nbd_export_info info;
  uint16_t eflags;
  bool base_allocation;         /* BLOCK_STATUS allowed */

  pthread_mutex_t lock;         /* guards everything below */
  pthread_cond_t work_cond;     /* work queued, or closing */
  pthread_cond_t reply_cond;    /* reply queued, or stop_writer */
  pthread_cond_t slot_cond;     /* inflight went down, or dead */
  struct request *work_head, *work_tail;
  unsigned work_len;
  struct request *reply_head, *reply_tail;
  unsigned inflight;
  uint64_t inflight_bytes;
  unsigned notifying;           /* release_slot is telling the server */
  unsigned nr_workers, idle_workers;
  unsigned max_workers;         /* srv->workers when conn was made */
  pthread_t *workers;           /* max_workers entries */
  bool closing;                 /* no more work will be queued */
  bool stop_writer;
  bool sending;                 /* a thread is sending replies (writer.c) */
  bool dead;                    /* socket failed: replies are dropped */
  bool has_writer;
  pthread_t writer;
};

struct connection *connection_new (struct nbd_server *srv, int fd);
void connection_free (struct connection *conn);
/* Serve conn to the end; returns like nbd_server_serve_fd. */
int connection_run (struct connection *conn);
/* Start a thread running connection_run, then unregistering conn.
 * -EUSERS if the server serves max_connections clients already. */
int connection_start_thread (struct connection *conn);
/* Shut the socket down so that blocked reads and writes return. */
void connection_kill (struct connection *conn);
unsigned connection_inflight (struct connection *conn);
void conn_log (struct connection *conn, enum nbd_log_level level,
               const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

/* ---- io.c -------------------------------------------------------------- */

/* Milliseconds left until conn->deadline_ns (at least 1), 0: no bound. */
unsigned tls_remaining_ms (struct connection *conn);
/* Let the next read of the socket block no longer than the handshake
 * has left: 0, or -ETIMEDOUT once conn->deadline_ns has passed. */
int conn_arm_deadline (struct connection *conn);
/* Read exactly len bytes (by conn->deadline_ns, if set).
 * Errors: -ECONNRESET (EOF), -ETIMEDOUT, -errno. */
int conn_recv (struct connection *conn, void *buf, size_t len);
/* Read and drop len bytes. */
int conn_discard (struct connection *conn, uint64_t len);
/* Write all of iov; more: further data follows at once (MSG_MORE). */
int conn_sendv (struct connection *conn, struct iovec *iov, int iovcnt,
                bool more);
int conn_send (struct connection *conn, const void *buf, size_t len,
               bool more);

/* ---- tls.c ------------------------------------------------------------- */

void tls_server_free (struct nbd_server *srv);
/* NBD_OPT_STARTTLS: acknowledge, run the TLS handshake, check the
 * client.  0, or -errno (the connection ends). */
int option_starttls (struct connection *conn, uint32_t len);
/* Send close_notify (best effort), then free the session. */
void tls_bye (struct connection *conn);
void tls_close (struct connection *conn);
/* Like recv: bytes read (0 at EOF) or -errno. */
ssize_t tls_recv (struct connection *conn, void *buf, size_t len);
int tls_sendv (struct connection *conn, const struct iovec *iov, int iovcnt,
               bool more);

/* ---- handshake.c ------------------------------------------------------- */

enum handshake_result {
  HANDSHAKE_GO = 3,             /* enter transmission */
  HANDSHAKE_CONTINUE = 1,       /* keep haggling */
  HANDSHAKE_ABORT = 2,          /* client ended the session */
};

/* Run the fixed newstyle handshake.  Returns HANDSHAKE_GO or
 * HANDSHAKE_ABORT, or -errno (-EPROTO: protocol violation). */
int handshake (struct connection *conn);
int send_option_reply (struct connection *conn, uint32_t option,
                       uint32_t reply, const void *data, size_t len);
int send_option_error (struct connection *conn, uint32_t option,
                       uint32_t reply, const char *fmt, ...)
  __attribute__ ((format (printf, 4, 5)));
/* Check a string from the wire: no NUL, at most NBD_MAX_STRING. */
bool valid_string (const char *s, size_t len);

/* ---- handshake-go.c ---------------------------------------------------- */

int option_info_go (struct connection *conn, uint32_t option,
                    const char *data, uint32_t len);
int option_export_name (struct connection *conn, const char *data,
                        uint32_t len);
int option_list (struct connection *conn, uint32_t len);

/* ---- handshake-meta.c -------------------------------------------------- */

int option_meta_context (struct connection *conn, uint32_t option,
                         const char *data, uint32_t len);

/* ---- request.c --------------------------------------------------------- */

struct request {
  struct nbd_request pub;
  struct connection *conn;
  uint64_t cookie;
  uint64_t bytes;               /* counted in conn->inflight_bytes */
  int err;                      /* 0 or -errno, the reply's error */
  void *buf;                    /* WRITE payload or READ data */
  struct nbd_extents extents;   /* READ holes, BLOCK_STATUS result */
  uint32_t reply_sent;          /* bytes of a simple reply sent already */
  struct request *next;
};

/* Read, validate and dispatch requests until the client leaves.
 * Returns 0 after NBD_CMD_DISC, else -errno. */
int transmission (struct connection *conn);
/* Send req's reply at once (writer_try_direct) or queue it for the
 * writer thread. */
void request_complete (struct request *req, int err);
void request_free (struct request *req);

/* ---- workers.c --------------------------------------------------------- */

/* Queue a READ or BLOCK_STATUS for the worker threads. */
void worker_enqueue (struct connection *conn, struct request *req);
void workers_join (struct connection *conn);

/* ---- reply.c ----------------------------------------------------------- */

/* Send req's reply.  more: another reply follows at once. */
int send_reply (struct connection *conn, struct request *req, bool more);
/* Is req's reply a simple reply without payload (whatever its error)? */
bool reply_is_bare (const struct request *req);
/* Send what is left of req's bare reply without blocking on a plain
 * socket: bytes sent (perhaps fewer than asked), or -errno. */
ssize_t send_bare_nowait (struct connection *conn, const struct request *req);
uint32_t nbd_errno (int err);

/* ---- writer.c ---------------------------------------------------------- */

int writer_start (struct connection *conn);
/* Send req's reply from the calling thread if that cannot block and
 * cannot interleave with other replies; true if req was taken (sent, or
 * queued for the writer with what is left of it). */
bool writer_try_direct (struct connection *conn, struct request *req);
/* Stop the writer once its queue is empty, and join it. */
void writer_stop (struct connection *conn);

#endif
