/*
 * The front of dist/unc: a small static program that runs unc from a
 * per-user cache, unpacking it there on the first start of each build.
 *
 * dist/unc is this program, then the files of unc's PyInstaller one-dir
 * build (launcher/pack.py writes them), then a trailer that says where they
 * are and names the build by a hash of them:
 *
 *     [this program][entry][entry]...[trailer: "UNCPACK1", offset, size, id]
 *
 * Each start: read the trailer through /proc/self/exe; find the first usable
 * cache directory; if <cache>/<id>/.complete exists, execv <cache>/<id>/unc
 * with our own argv; else unpack into a fresh <cache>/.new-<id>-<pid>, write
 * .complete last and rename the directory into place, then exec. Nothing is
 * left resident and nothing is unpacked again: PyInstaller's one-file mode
 * unpacks 11 MB into a new temporary directory at every start and stays as a
 * parent process to delete it.
 *
 * Cache directories, first usable wins: $UNC_CACHE_DIR, $XDG_CACHE_HOME/unc,
 * $HOME/.cache/unc, $XDG_RUNTIME_DIR/unc, ${TMPDIR:-/tmp}/unc-<uid>. Usable
 * means: a directory (not a symlink) owned by us and writable by no one else,
 * created with mode 0700 when missing, where the unpacked program can be
 * executed (a noexec mount moves on to the next). The XDG and $HOME ones
 * count only when that directory is ours (under sudo, $HOME may be the
 * caller's). Another user can neither plant files there nor swap the
 * directory, so what we execute is what we unpacked.
 *
 * Errors are one line on stderr starting with "unc: " and exit status 125,
 * as for unc itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "UNCPACK1"
#define ID_LEN 32
#define STALE_SECONDS (7 * 24 * 3600)   /* other builds unused this long go */

struct trailer {                        /* little-endian, as pack.py writes it */
    char magic[8];
    uint64_t offset;                    /* of the first entry in the file */
    uint64_t size;                      /* of all entries */
    char id[ID_LEN];                    /* hex hash of the entries */
};

static char problem[512];               /* why the last cache directory failed */

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
}

static void die(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    dprintf(2, "unc: %s\n", line);
    exit(125);
}

static int read_at(int fd, void *buf, size_t len, off_t off)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n, off += n, len -= (size_t)n;
    }
    return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n, len -= (size_t)n;
    }
    return 0;
}

/* Copy len bytes at *off of `in` to `out`: in the kernel where it can. */
static int copy_range(int in, off_t *off, int out, uint64_t len)
{
    static char buf[1 << 20];
    while (len > 0) {
        ssize_t n = copy_file_range(in, off, out, NULL, len, 0);
        if (n > 0) {
            len -= (uint64_t)n;
            continue;
        }
        if (n < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL
                && errno != EOPNOTSUPP)
            return -1;
        size_t chunk = len < sizeof buf ? (size_t)len : sizeof buf;
        if (read_at(in, buf, chunk, *off) < 0 || write_all(out, buf, chunk) < 0)
            return -1;
        *off += (off_t)chunk, len -= chunk;
    }
    return 0;
}

/* A path from the archive: relative, no "..", no empty component. */
static int safe_path(const char *p)
{
    if (*p == '\0' || *p == '/')
        return 0;
    for (const char *c = p; *c; ) {
        const char *end = strchrnul(c, '/');
        size_t n = (size_t)(end - c);
        if (n == 0 || (n == 2 && c[0] == '.' && c[1] == '.') || (n == 1 && c[0] == '.'))
            return 0;
        c = *end ? end + 1 : end;
    }
    return 1;
}

static int remove_tree(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return unlinkat(dirfd, name, 0);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            remove_tree(fd, e->d_name);     /* a directory or not, it finds out */
    closedir(d);
    return unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* Unpack the entries into `dir` (which must not exist); 0 on success. */
static int unpack(int self, const struct trailer *t, const char *dir)
{
    if (mkdir(dir, 0700) < 0) {
        say("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        say("cannot open %s: %s", dir, strerror(errno));
        return -1;
    }
    off_t off = (off_t)t->offset, end = (off_t)(t->offset + t->size);
    char path[PATH_MAX], target[PATH_MAX];
    while (off < end) {
        unsigned char head[17];         /* type, mode, path length, data length */
        if (read_at(self, head, sizeof head, off) < 0)
            goto corrupt;
        uint32_t mode, plen;
        uint64_t dlen;
        memcpy(&mode, head + 1, 4);
        memcpy(&plen, head + 5, 4);
        memcpy(&dlen, head + 9, 8);
        off += (off_t)sizeof head;
        if (plen == 0 || plen >= sizeof path || read_at(self, path, plen, off) < 0)
            goto corrupt;
        path[plen] = '\0';
        off += plen;
        if (!safe_path(path))
            goto corrupt;
        int ok;
        switch (head[0]) {
        case 'd':
            ok = mkdirat(root, path, mode & 0755) == 0;
            break;
        case 'l':
            if (dlen >= sizeof target || read_at(self, target, dlen, off) < 0)
                goto corrupt;
            target[dlen] = '\0';
            off += (off_t)dlen;
            ok = symlinkat(target, root, path) == 0;
            break;
        case 'f': {
            int fd = openat(root, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                            mode & 0755);
            ok = fd >= 0 && copy_range(self, &off, fd, dlen) == 0;
            if (fd >= 0 && close(fd) < 0)
                ok = 0;
            break;
        }
        default:
            goto corrupt;
        }
        if (!ok) {
            say("cannot unpack %s/%s: %s", dir, path, strerror(errno));
            close(root);
            return -1;
        }
    }
    /* Written last: a directory without it is an unpacking that died. */
    int fd = openat(root, ".complete", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || close(fd) < 0) {
        say("cannot finish %s: %s", dir, strerror(errno));
        close(root);
        return -1;
    }
    close(root);
    return 0;
corrupt:
    close(root);
    die("%s is damaged (its unc payload does not read back); copy the binary again",
        "this unc binary");
    return -1;
}

/* Make `base` exist as a directory that only we control. */
static int usable_base(const char *base)
{
    struct stat st;
    if (mkdir(base, 0700) < 0 && errno != EEXIST) {
        say("cannot create %s: %s", base, strerror(errno));
        return 0;
    }
    if (lstat(base, &st) < 0) {
        say("cannot use %s: %s", base, strerror(errno));
        return 0;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
        say("%s is not a directory that only you may change", base);
        return 0;
    }
    return 1;
}

/* Remove other builds nobody has started for a week, and dead unpackings. */
static void remove_stale(const char *base, const char *id)
{
    int fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    time_t now = time(NULL);
    struct dirent *e;
    char mark[NAME_MAX + 16];
    struct stat st;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, ".new-", 5) == 0) {
            /* An unpacking that died (killed, disk full) an hour ago. */
            if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
                    && now - st.st_mtime > 3600)
                remove_tree(fd, e->d_name);
            continue;
        }
        if (strlen(e->d_name) != ID_LEN || strcmp(e->d_name, id) == 0)
            continue;
        snprintf(mark, sizeof mark, "%s/.complete", e->d_name);
        if (fstatat(fd, mark, &st, AT_SYMLINK_NOFOLLOW) == 0
                && now - st.st_mtime > STALE_SECONDS)
            remove_tree(fd, e->d_name);
    }
    closedir(d);
}

/* Run unc from `base`, unpacking it first if needed; returns only on failure. */
static void run_from(const char *base, int self, const struct trailer *t,
                     const char *id, char **argv)
{
    char dir[PATH_MAX], mark[PATH_MAX], exe[PATH_MAX], fresh[PATH_MAX];
    if (strlen(base) > PATH_MAX - 128) {
        say("%.64s...: path too long", base);
        return;
    }
    if (!usable_base(base))
        return;
    snprintf(dir, sizeof dir, "%s/%s", base, id);
    snprintf(mark, sizeof mark, "%s/.complete", dir);
    snprintf(exe, sizeof exe, "%s/unc", dir);
    struct stat st;
    if (lstat(mark, &st) != 0) {
        snprintf(fresh, sizeof fresh, "%s/.new-%s-%d", base, id, (int)getpid());
        if (unpack(self, t, fresh) < 0) {
            int base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (base_fd >= 0) {
                remove_tree(base_fd, fresh + strlen(base) + 1);
                close(base_fd);
            }
            return;
        }
        if (rename(fresh, dir) < 0) {
            /* Someone else put it there first, or a dead unpacking is in the
               way: theirs is used, or the dead one goes and ours takes its place. */
            int saved = errno;
            int base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (lstat(mark, &st) != 0 && base_fd >= 0 && (saved == EEXIST || saved == ENOTEMPTY)) {
                remove_tree(base_fd, id);
                saved = rename(fresh, dir) < 0 ? errno : 0;
            }
            if (base_fd >= 0) {
                if (saved != 0)
                    remove_tree(base_fd, fresh + strlen(base) + 1);
                close(base_fd);
            }
            if (lstat(mark, &st) != 0) {
                say("cannot put %s in place: %s", dir, strerror(saved));
                return;
            }
        }
        remove_stale(base, id);
    } else {
        /* Mark this build as in use, for remove_stale() of other builds. */
        utimensat(AT_FDCWD, mark, NULL, AT_SYMLINK_NOFOLLOW);
    }
    execv(exe, argv);
    say("cannot execute %s: %s%s", exe, strerror(errno),
        errno == EACCES || errno == EPERM ? " (a noexec mount?)" : "");
}

/* A directory of this user's: $HOME under sudo may well be someone else's. */
static int mine(const char *path)
{
    struct stat st;
    return *path == '/' && stat(path, &st) == 0 && S_ISDIR(st.st_mode)
        && st.st_uid == geteuid();
}

int main(int argc, char **argv)
{
    (void)argc;
    int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        die("cannot open /proc/self/exe (%s): unc needs /proc", strerror(errno));
    struct stat st;
    struct trailer t;
    if (fstat(self, &st) < 0 || st.st_size < (off_t)sizeof t
            || read_at(self, &t, sizeof t, st.st_size - (off_t)sizeof t) < 0
            || memcmp(t.magic, MAGIC, 8) != 0
            || t.offset + t.size + sizeof t != (uint64_t)st.st_size)
        die("this unc binary is damaged (no unc payload at its end); copy it again");
    char id[ID_LEN + 1];
    memcpy(id, t.id, ID_LEN);
    id[ID_LEN] = '\0';
    for (int i = 0; i < ID_LEN; i++)
        if (!strchr("0123456789abcdef", id[i]))
            die("this unc binary is damaged (bad build id); copy it again");

    char bases[5][PATH_MAX];
    int n = 0;
    const char *v;
    if ((v = getenv("UNC_CACHE_DIR")) && *v == '/')
        snprintf(bases[n++], PATH_MAX, "%s", v);
    const char *home = getenv("HOME");
    if ((v = getenv("XDG_CACHE_HOME")) && *v == '/') {
        mkdir(v, 0700);                 /* created when missing, as XDG says */
        if (mine(v))
            snprintf(bases[n++], PATH_MAX, "%s/unc", v);
    } else if (home && strcmp(home, "/") != 0 && mine(home)) {
        char cache[PATH_MAX];
        snprintf(cache, sizeof cache, "%s/.cache", home);
        mkdir(cache, 0700);             /* the XDG default; fine if it exists */
        snprintf(bases[n++], PATH_MAX, "%s/unc", cache);
    }
    if ((v = getenv("XDG_RUNTIME_DIR")) && mine(v))
        snprintf(bases[n++], PATH_MAX, "%s/unc", v);
    v = getenv("TMPDIR");
    snprintf(bases[n++], PATH_MAX, "%s/unc-%u", v && *v == '/' ? v : "/tmp",
             (unsigned)geteuid());

    for (int i = 0; i < n; i++)
        run_from(bases[i], self, &t, id, argv);
    die("cannot start: no cache directory works (last: %s); set UNC_CACHE_DIR to a "
        "directory of yours that allows executing programs", problem);
}
