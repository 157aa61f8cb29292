/* cdp: the libvirt driver (libvirt.c, libvirt-xml.c) — one domain seen
 * through a libvirt connection: its disks, its state, its block jobs and
 * their events, the block copy that feeds cdp's receiver, and the guest
 * agent's file system freeze.
 *
 * Events: libvirt delivers them on one process-wide event loop thread
 * (lv_event_loop_start; virEventRegisterDefaultImpl and
 * virEventRunDefaultImpl).  The callbacks only queue them on the handle;
 * the thread that owns the handle takes them with lv_next_event.
 *
 * Thread rules: a handle belongs to one thread at a time; different
 * handles are independent.  Errors: functions return >= 0 or -errno and
 * never print; the thread's error (common/error.h, cdp_get_error) then
 * holds a line a person can read (libvirt's own message where it gave
 * one).
 */
#ifndef CDP_LIBVIRT_H
#define CDP_LIBVIRT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/vector.h"

struct lv;

/* Start the event loop thread (once per process; later calls do
 * nothing).  Must run before the first lv_open. */
int lv_event_loop_start (void);

/* Connect to uri (NULL: libvirt's default, qemu:///system for root) and
 * follow domain `domain`: lifecycle, block job and device added/removed
 * events are queued from now on.  Errors: -ECONNREFUSED (libvirtd unreachable), -ENOENT (no
 * such domain), -EIO. */
int lv_open (const char *uri, const char *domain, struct lv **lp);
void lv_close (struct lv *l);
/* A connection that follows no domain (lv_define, lv_start with xml and
 * lv_qemu_owner only). */
int lv_connect (const char *uri, struct lv **lp);

/* An event about the domain, or that the connection was lost.
 * LV_EV_DEVICE: a device was added or removed (its alias in disk). */
enum lv_event_kind { LV_EV_JOB, LV_EV_LIFECYCLE, LV_EV_CLOSED, LV_EV_DEVICE };
struct lv_event {
  enum lv_event_kind kind;
  char disk[64];              /* LV_EV_JOB: the disk's target ("vda");
                                 LV_EV_DEVICE: the device's alias */
  int type, status;           /* LV_EV_JOB: virDomainBlockJobType, ...Status */
  int event, detail;          /* LV_EV_LIFECYCLE: virDomainEventType, detail */
  int64_t time_ns;            /* when it arrived (CLOCK_REALTIME) */
};

/* Take the oldest event, waiting up to timeout_ms.  1: *ev set; 0: none. */
int lv_next_event (struct lv *l, int timeout_ms, struct lv_event *ev);

/* The domain is running (or paused: QEMU runs), and if not, why not:
 * *why is a static string ("shut off", "crashed", ...).  A domain that
 * vanished is -ENOENT. */
int lv_domain_active (struct lv *l, bool *active, const char **why);

/* Is a migration of the domain in progress (in or out)? */
bool lv_migrating (struct lv *l);

/* The user and group QEMU runs as (its DAC label), from the live
 * domain definition, else libvirt's capabilities; 0/0 when unknown. */
int lv_qemu_owner (struct lv *l, uid_t *uid, gid_t *gid);

/* The disks of the domain (device='disk'), targets and sizes in bytes. */
struct lv_disk {
  char *target;
  uint64_t size;
};
DEFINE_VECTOR_TYPE (lv_disk_vector, struct lv_disk)
int lv_disks (struct lv *l, lv_disk_vector *out);
void lv_disks_free (lv_disk_vector *v);
/* One disk's size now. */
int lv_disk_size (struct lv *l, const char *target, uint64_t *size);
/* The targets of the disks (device='disk') the running domain has now,
 * hot-plugged ones included (its live definition), appended to out. */
int lv_live_disks (struct lv *l, string_vector *out);
/* Detach disk from the running domain (virDomainDetachDeviceFlags,
 * live) and from its persistent definition if that has it.  The guest
 * must release the device: it may still be there on return. */
int lv_detach (struct lv *l, const char *disk);
/* Resize disk to size bytes (virDomainBlockResize; QEMU refuses while a
 * block job runs on it). */
int lv_resize (struct lv *l, const char *disk, uint64_t size);

/* Where a copy job writes to: a unix socket, or host and port (tcp),
 * and the NBD export. */
struct lv_dest {
  const char *socket;         /* unix transport, or NULL */
  const char *host, *port;    /* tcp transport */
  bool tls;                   /* tcp: NBD TLS (X.509; libvirt's
                               * nbd_tls_x509_cert_dir holds QEMU's
                               * client certificate) */
  const char *export_name;
};

/* The block job running on disk now, if any.  Returns 1 with *type
 * (virDomainBlockJobType), progress *cur and *end, and *ours: whether it is
 * a copy whose destination is dest; 0 when none runs. */
int lv_job (struct lv *l, const char *disk, const struct lv_dest *dest,
            int *type, uint64_t *cur, uint64_t *end, bool *ours);

/* Start a block copy of disk to dest: virDomainBlockCopy with a network
 * NBD destination, VIR_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES (QEMU's
 * copy-mode=write-blocking), VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB and
 * VIR_DOMAIN_BLOCK_COPY_REUSE_EXT (the receiver exists already). */
int lv_copy_start (struct lv *l, const char *disk, const struct lv_dest *dest);

/* Abort the block job on disk (never pivots: the VM stays on its disk)
 * and wait until it is gone. */
int lv_job_abort (struct lv *l, const char *disk);

/* Rapid recovery.  lv_definition: the domain's XML (malloc'd; NULL on
 * error), secure parts included, the persistent one if inactive.
 * lv_persistent: 1 or 0.  lv_destroy: stop it now (nothing if it is not
 * running).  lv_define: define (or redefine) a persistent domain from xml
 * on the handle's connection.  lv_start: start the handle's domain
 * (xml NULL), or a transient domain from xml.  lv_pull_start:
 * virDomainBlockPull of disk, limited to mib_per_s (0: no limit).
 * lv_has_backing: 1 when disk still has a backing store in the live (or
 * persistent) definition, 0 when it stands alone. */
char *lv_definition (struct lv *l, bool inactive);
int lv_persistent (struct lv *l);
int lv_destroy (struct lv *l);
int lv_define (struct lv *l, const char *xml);
int lv_start (struct lv *l, const char *xml);
int lv_pull_start (struct lv *l, const char *disk, unsigned long mib_per_s);
int lv_has_backing (struct lv *l, const char *disk, bool inactive);

/* Freeze / thaw the guest's file systems through the guest agent.
 * lv_freeze returns how many were frozen; -ENOTSUP when the domain has
 * no agent (or it does not answer), with the reason in cdp_get_error. */
int lv_freeze (struct lv *l);
int lv_thaw (struct lv *l);

/* Human names of libvirt's enums, for messages. */
const char *lv_job_type_name (int type);
const char *lv_lifecycle_name (int event, int detail);

/* ---- libvirt-protect.c: the protector of a libvirt-mode task (hv.h) --- */

/* The protector thread: arg is the task's struct served (protect.h). */
void *libvirt_protector (void *served);

/* libvirt-recover.c: what cdp recover does with the domain (hv.h). */
extern const struct hv_recover libvirt_recover;

#endif
