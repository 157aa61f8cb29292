/* cdp: the options of an NBD listener (the receiver of a task, cdp
 * export): TLS on TCP (--tls-creds DIR, --tls-psk FILE, or plainly
 * --no-tls) and the bound on concurrent clients (--max-connections). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "nbd-export/nbd-server.h"

bool
listen_is_tcp (const char *addr)
{
  return addr && strncmp (addr, "tcp:", 4) == 0;
}

int
listen_opt (int c, const char *arg, struct listen_opts *o)
{
  char *end;
  long n;

  switch (c) {
  case LISTEN_OPT_TLS_CREDS:
  case LISTEN_OPT_TLS_PSK:
    if (o->tls_creds || o->tls_psk || o->no_tls)
      return usage_error ("give one of --tls-creds, --tls-psk and --no-tls");
    if (*arg == '\0')
      return usage_error ("--%s needs a %s", c == LISTEN_OPT_TLS_CREDS
                          ? "tls-creds" : "tls-psk",
                          c == LISTEN_OPT_TLS_CREDS ? "directory" : "file");
    /* cdp serve runs elsewhere: keep the path absolute. */
    if (c == LISTEN_OPT_TLS_CREDS)
      o->tls_creds = realpath (arg, NULL) ? : strdup (arg);
    else
      o->tls_psk = realpath (arg, NULL) ? : strdup (arg);
    return 0;
  case LISTEN_OPT_NO_TLS:
    if (o->tls_creds || o->tls_psk)
      return usage_error ("give one of --tls-creds, --tls-psk and --no-tls");
    o->no_tls = true;
    return 0;
  case LISTEN_OPT_MAX_CONNECTIONS:
    errno = 0;
    n = strtol (arg, &end, 10);
    if (errno || end == arg || *end || n < 1 || n > 10000)
      return usage_error ("--max-connections takes a number from 1 to 10000, "
                          "not '%s'", arg);
    o->max_connections = (unsigned) n;
    return 0;
  default:
    abort ();                   /* only the LISTEN_OPT_* come here */
  }
}

/* Load the credentials into srv (or check them, on a server that never
 * serves); prints the error. */
static int
load_tls (struct nbd_server *srv, const struct listen_opts *o)
{
  char why[512];
  int r;

  if (o->tls_creds)
    r = nbd_server_set_tls (srv, NBD_TLS_X509, o->tls_creds, why, sizeof why);
  else if (o->tls_psk)
    r = nbd_server_set_tls (srv, NBD_TLS_PSK, o->tls_psk, why, sizeof why);
  else
    return 0;
  if (r < 0 && *why)
    return fail ("%s: %s", o->tls_creds ? "--tls-creds" : "--tls-psk", why);
  if (r < 0)
    return fail ("%s %s: %s", o->tls_creds ? "--tls-creds" : "--tls-psk",
                 o->tls_creds ? o->tls_creds : o->tls_psk, strerror (-r));
  return 0;
}

/* The backend of a server that only loads credentials to check them. */
static int
no_open (void *opaque, const char *name, void **handle,
         struct nbd_export_info *info)
{
  return -ENOENT;
}

static int
no_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
          struct nbd_extents *extents)
{
  return -EIO;
}

static const struct nbd_backend_ops check_ops = {
  .open = no_open, .pread = no_pread,
};

int
listen_check (const char *addr, const struct listen_opts *o)
{
  struct nbd_server *srv;
  bool tls = o->tls_creds || o->tls_psk;
  int r;

  if (listen_is_tcp (addr) && !tls && !o->no_tls)
    return usage_error ("--listen %s: a tcp listener needs --tls-creds DIR, "
                        "--tls-psk FILE or --no-tls", addr);
  if (!listen_is_tcp (addr) && (tls || o->no_tls))
    return usage_error ("--tls-creds, --tls-psk and --no-tls are for a "
                        "--listen tcp:HOST:PORT (unix sockets are plain)");
  if (!tls)
    return 0;
  r = nbd_server_new (&check_ops, NULL, &srv);
  if (r < 0)
    return fail ("cannot check the TLS credentials: %s", strerror (-r));
  r = load_tls (srv, o);
  nbd_server_free (srv);
  return r;
}

int
listen_apply (struct nbd_server *srv, const char *addr,
              const struct listen_opts *o)
{
  nbd_server_set_max_connections (srv, o->max_connections);
  if (!listen_is_tcp (addr))
    return 0;
  if (!o->tls_creds && !o->tls_psk && !o->no_tls)
    return fail ("%s: a tcp listener needs --tls-creds DIR, --tls-psk FILE "
                 "or --no-tls; recreate the task with one", addr);
  return load_tls (srv, o);
}

void
listen_opts_free (struct listen_opts *o)
{
  free (o->tls_creds);
  free (o->tls_psk);
  o->tls_creds = o->tls_psk = NULL;
}
