/* warm.h: warm start: VM snapshots at crumb-init's snapshot point, their store and shape key,
 * taking one (crumb warm) and restoring one (crumb run). */
#ifndef CRUMB_WARM_H
#define CRUMB_WARM_H

#include <stddef.h>
#include <stdint.h>

#include "accel.h"
#include "util.h"
#include "vmconf.h"

/*
 * A snapshot is QEMU's migration stream of a VM stopped while crumb-init
 * waits at its snapshot point (src/init/config.h "snapshot", markers.h). It
 * lives in the store beside the images:
 *   STORE/snapshots/blobs/HEX               the stream; HEX its sha256
 *   STORE/snapshots/index/IMAGE.SHAPE       "sha256:HEX SIZE\n": the snapshot of
 *                                           image manifest IMAGE (hex) for shape SHAPE
 * Entries are written atomically (temp + rename); warm_gc removes the entries
 * of images no longer in the store and the blobs no entry names.
 *
 * The shape is what must be the same for a snapshot to be restored: QEMU's
 * argv as vm_qemu_argv builds it (machine, accelerator, memory, cpus, every
 * device and its backend, kernel, initrd, disk, kernel command line) with
 * the parts that belong to one run made alike: the run's work directory
 * (sockets, fw_cfg file, config disk) becomes "@WORK", published ports
 * (hostfwd=...) are dropped; plus the identity (path, size, mtime, inode) of
 * the QEMU binary and of every file the argv names. So another device, a
 * rebuilt QEMU or kernel, or another -m is another shape.
 */

#define WARM_DIR "snapshots"
#define WARM_SEED_LEN 64

/* The normalized argv, one argument a line (malloc'd). work: the run's work
 * directory (NULL: none to replace). */
char *warm_shape_text(char *const *argv, const char *work);

/*
 * The shape key of a VM: c as vm_run would boot it with qemu on accel a
 * (vm_qemu_net applied; verbose and klog do not count: a restored kernel
 * prints nothing), work its work directory; out gets 64 hex digits. A file
 * that cannot be stat'ed is CRUMB_ENOENT.
 */
int warm_shape(const struct vm_config *c, const char *qemu, enum accel a, const char *work,
	       char out[65], struct err *e);

/* One index entry. */
struct warm_entry {
	char digest[80]; /* "sha256:HEX" of the stream */
	uint64_t size;
	char *path; /* its blob (malloc'd; warm_entry_release) */
};
void warm_entry_release(struct warm_entry *w);

/* The snapshot of image (a manifest digest "sha256:HEX") for shape: 0 and *out
 * filled, CRUMB_ENOENT when there is none, CRUMB_EFORMAT for a damaged entry
 * (named). */
int warm_lookup(const char *store, const char *image, const char *shape, struct warm_entry *out,
		struct err *e);

/* Files the stream at tmp (a file in STORE/snapshots/blobs, hex and size as
 * hashed) as the snapshot of image for shape, replacing an older one. */
int warm_put(const char *store, const char *image, const char *shape, const char *tmp,
	     const char *hex, uint64_t size, struct err *e);

/* Removes the entries of images not in live (manifest digests) and every blob
 * no entry names; *removed and *bytes (may be NULL) count the blobs. */
int warm_gc(const char *store, const struct strlist *live, size_t *removed, uint64_t *bytes,
	    struct err *e);

/* warm_gc with the store's tagged images as the live ones (crumb rmi, prune). */
struct oci_store;
int warm_gc_store(struct oci_store *s, size_t *removed, uint64_t *bytes, struct err *e);

/* What taking a snapshot saw (monotonic times). */
struct warm_taken {
	char hex[65];
	uint64_t size;
	char *tmp; /* the stream's temp file in the store (malloc'd) */
	double t_stopped, t_saved;
};

/*
 * Takes the snapshot of the VM whose QMP socket is qmp_path: stop, the
 * stream through a pipe (getfd + migrate "fd:") into a temp file under
 * STORE/snapshots/blobs, hashed as it arrives, the migration's end checked
 * (query-migrate), then quit. On failure the temp file is gone.
 */
int warm_take(const char *qmp_path, const char *store, struct warm_taken *t, struct err *e);

/* What restoring saw: monotonic times (0: not reached) and the bytes fed. */
struct warm_times {
	double t_fed, t_loaded, t_digest, t_cont, t_config;
	uint64_t bytes;
};

/* The restore request crumb-init takes on its control port (markers.h):
 * "restore KEY SEED SEC NSEC LEN\n" and the config's len bytes, into out. */
void warm_request(const unsigned char *key, size_t keylen, const unsigned char *seed, long long sec,
		  long nsec, const char *conf, size_t len, struct sbuf *out);

/*
 * Restores a VM QEMU is starting with "-incoming fd:" on the other end of
 * sock: feeds it the snapshot w (checked to be a regular file of w->size,
 * hashed while fed; sock is closed), waits on QMP (qmp_path) until QEMU has
 * loaded it, compares the digest, sends the restore request req to the control
 * socket ctl_path (it waits in QEMU's socket while the VM is paused) and
 * resumes the VM (cont). The connection is left open in *ctl (QEMU drops what
 * the guest has not taken when it closes: close it once crumb-init's init
 * marker has come, or the VM has ended). Any failure (QEMU refused the stream,
 * a digest mismatch, a timeout) is an error saying what, "digest mismatch"
 * among them: the VM must then be killed (it never ran when the digest was
 * wrong).
 */
int warm_restore(int sock, const struct warm_entry *w, const char *qmp_path, const char *ctl_path,
		 const struct sbuf *req, int *ctl, struct warm_times *t, struct err *e);

#endif
