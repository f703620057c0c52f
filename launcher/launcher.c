/*
 * The front of dist/unc: a small program that runs unc from a per-user
 * cache, unpacking it there on the first start of each build.
 *
 * dist/unc is this program, then the files of unc's PyInstaller one-dir
 * build, compressed (launcher/pack.py writes them), then a trailer that says
 * where they are and names the build by a hash of them:
 *
 *     [this program][entry][entry]...[trailer: "UNCPACK3", offset, size, id]
 *
 * Each start: read the trailer through /proc/self/exe; find the first usable
 * cache directory; if <cache>/build-<id>/.complete exists, execv
 * <cache>/build-<id>/unc with our own argv; else unpack into a fresh
 * <cache>/.unpacking-<id>-<pid>, check the hash of what was read against
 * the id, write .complete last and rename the directory into place, then
 * exec. Nothing stays resident and nothing is unpacked twice: PyInstaller's
 * one-file mode unpacks 11 MB into a new temporary directory at every start
 * and stays as a parent process to delete it.
 *
 * It needs nothing of the host but the kernel: build.sh links it
 * statically, and it inflates the payload with its own code below. Nor
 * does unc: the build carries the dynamic loader and C library it was
 * linked with (bundle.py), and on unpacking, the bootloader's PT_INTERP is
 * pointed at that loader (set_interpreter), which finds the rest through
 * LD_LIBRARY_PATH (as_restarted_bootloader): nothing of the host's /lib or
 * /usr/lib is loaded. The programs unc starts get the caller's
 * LD_LIBRARY_PATH back (core/execvp.py) and run on the host's libraries.
 *
 * The cache directory is $UNC_CACHE_DIR when set (and then nothing else);
 * else the first usable of $XDG_CACHE_HOME/unc (or, without XDG_CACHE_HOME,
 * $HOME/.cache/unc), $XDG_RUNTIME_DIR/unc, ${TMPDIR:-/tmp}/unc-<uid>.
 * Usable means: a directory (not a symlink) owned by us and writable by no
 * one else, created with mode 0700 when missing, where the unpacked program
 * can be executed (a noexec mount moves on to the next). The XDG and $HOME
 * directories count only when they are ours (under sudo, $HOME may be the
 * caller's), and are never created in a directory that is not. Where
 * another user holds /tmp/unc-<uid>, a fresh /tmp/unc-<uid>.XXXXXX of ours
 * is found or made instead. So another user can neither plant files in the
 * cache nor swap it, and what we execute is what we unpacked.
 *
 * Only entries named like ours are ever removed from a cache directory:
 * build-<32 hex> directories nobody started for a week, and .unpacking-*
 * directories of unpackings that died an hour ago.
 *
 * Errors are one line on stderr starting with "unc: " and exit status 125,
 * as for unc itself.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "UNCPACK3"
#define ID_LEN 32
#define STALE_BUILD (7 * 24 * 3600)     /* other builds unused this long go */
#define STALE_UNPACKING 3600            /* and unpackings that died this long ago */

struct trailer {                        /* little-endian, as pack.py writes it */
    char magic[8];
    uint64_t offset;                    /* of the first entry in the file */
    uint64_t size;                      /* of all entries */
    char id[ID_LEN];                    /* hex: CRC-32 of the entries, 8 digits of their
                                           SHA-256, their size (see pack.py) */
};

static char problems[1024];             /* why each cache directory failed */

/* Note why a cache directory failed, for the error if none works. */
static void say(const char *fmt, ...)
{
    size_t used = strlen(problems);
    if (used)
        used += (size_t)snprintf(problems + used, sizeof problems - used, "; ");
    va_list ap;
    va_start(ap, fmt);
    if (used < sizeof problems)
        vsnprintf(problems + used, sizeof problems - used, fmt, ap);
    va_end(ap);
}

/* One line on stderr, as unc's own errors, and unc's status for them. */
static void die(const char *fmt, ...)
{
    char line[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    dprintf(2, "unc: %s\n", line);     /* one write: one line, never interleaved */
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

/* The payload is read in order, once, through here: its CRC-32 (zlib's,
   which pack.py uses) must match the build id, or the binary is damaged and
   nothing is put in place. */
static uint32_t crc = 0xffffffffu, crc_table[256];

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
    crc = 0xffffffffu;
}

static int read_payload(int fd, void *buf, size_t len, off_t off)
{
    if (read_at(fd, buf, len, off) < 0)
        return -1;
    for (const unsigned char *p = buf, *end = p + len; p < end; p++)
        crc = crc_table[(crc ^ *p) & 0xff] ^ (crc >> 8);
    return 0;
}

/*
 * Inflate (RFC 1950 and 1951), for the files of the payload, which pack.py
 * compresses with zlib (15 MB of build in 6.6 MB). Our own, small, so that
 * the launcher needs nothing from the host: no libz.so.1 to dlopen, no
 * shared C library (build.sh links it statically). It runs only at the first
 * start of a build. A file is inflated whole into memory and written at
 * once; the zlib trailer's Adler-32 of what came out is checked as well as
 * the payload's CRC-32 of what went in.
 *
 * Huffman codes are decoded through a table indexed by the next FAST bits of
 * the stream (deflate packs codes first bit first, so the table is indexed
 * by the code's bits reversed); the few longer codes are decoded bit by bit
 * from the canonical code: codes of one length are consecutive numbers, the
 * first of each length following from the counts of the shorter ones.
 */
#define FAST 10
#define MAXBITS 15

struct huffman {
    uint16_t fast[1 << FAST];           /* symbol << 4 | length; 0: longer code */
    uint16_t count[MAXBITS + 1];        /* number of codes of each length */
    uint16_t symbol[320];               /* symbols ordered by code */
};

struct stream {
    const unsigned char *next, *end;    /* the input; reads past end give 0 */
    uint64_t bits;                      /* bits not yet used, first in bit 0 */
    unsigned have;                      /* how many */
    unsigned char *out;                 /* what came out so far */
    size_t used, size;
    int no_memory;
};

static void refill(struct stream *s)
{
    while (s->have <= 56) {
        s->bits |= (uint64_t)(s->next < s->end ? *s->next : 0) << s->have;
        s->next++;                      /* past end: checked at the end */
        s->have += 8;
    }
}

static unsigned take(struct stream *s, unsigned n)     /* n <= 32 */
{
    if (s->have < n)
        refill(s);
    unsigned v = (unsigned)(s->bits & ((1ull << n) - 1));
    s->bits >>= n;
    s->have -= n;
    return v;
}

/* A table from code lengths; -1 if more codes than lengths allow. */
static int build(struct huffman *h, const unsigned char *lengths, int n)
{
    uint16_t offset[MAXBITS + 2];
    memset(h->count, 0, sizeof h->count);
    for (int i = 0; i < n; i++)
        h->count[lengths[i]]++;
    h->count[0] = 0;
    int left = 1;
    for (int len = 1; len <= MAXBITS; len++) {
        left = 2 * left - h->count[len];
        if (left < 0)
            return -1;
    }
    offset[1] = 0;
    for (int len = 1; len <= MAXBITS; len++)
        offset[len + 1] = (uint16_t)(offset[len] + h->count[len]);
    for (int i = 0; i < n; i++)
        if (lengths[i])
            h->symbol[offset[lengths[i]]++] = (uint16_t)i;
    /* The fast table: walk the codes in order, as the canonical code assigns them. */
    memset(h->fast, 0, sizeof h->fast);
    unsigned code = 0, index = 0;
    for (int len = 1; len <= FAST; len++) {
        for (unsigned k = 0; k < h->count[len]; k++, code++, index++) {
            unsigned reversed = 0;
            for (int b = 0; b < len; b++)
                reversed |= ((code >> b) & 1u) << (len - 1 - b);
            for (unsigned j = reversed; j < (1u << FAST); j += 1u << len)
                h->fast[j] = (uint16_t)(h->symbol[index] << 4 | len);
        }
        code <<= 1;
    }
    return 0;
}

/* The next symbol, or -1 for a code the table does not have. */
static int decode(struct stream *s, const struct huffman *h)
{
    if (s->have < MAXBITS)
        refill(s);
    unsigned e = h->fast[s->bits & ((1u << FAST) - 1)];
    if (e) {
        s->bits >>= e & 15;
        s->have -= e & 15;
        return e >> 4;
    }
    /* Longer than FAST bits: the canonical code, one bit at a time. */
    int code = 0, first = 0, index = 0;
    for (int len = 1; len <= MAXBITS; len++) {
        code |= (int)((s->bits >> (len - 1)) & 1);
        int count = h->count[len];
        if (code < first + count) {
            s->bits >>= len;
            s->have -= (unsigned)len;
            return h->symbol[index + code - first];
        }
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    return -1;
}

static int grow(struct stream *s, size_t need)
{
    if (s->used + need <= s->size)
        return 0;
    size_t size = s->size ? s->size : 1 << 16;
    while (size < s->used + need)
        size *= 2;
    unsigned char *out = realloc(s->out, size);
    if (!out) {
        s->no_memory = 1;
        return -1;
    }
    s->out = out, s->size = size;
    return 0;
}

static const uint16_t length_base[29] = {
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
    35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t length_extra[29] = {
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t distance_base[30] = {
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
    257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t distance_extra[30] = {
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

/* One block's symbols until its end code; -1 on bad data or no memory. */
static int codes(struct stream *s, const struct huffman *lit, const struct huffman *dist)
{
    for (;;) {
        if (s->size - s->used < 258 && grow(s, 258) < 0)
            return -1;                  /* room for a literal or the longest match */
        int sym = decode(s, lit);
        if (sym < 0)
            return -1;
        if (sym < 256) {
            s->out[s->used++] = (unsigned char)sym;
            continue;
        }
        if (sym == 256)
            return 0;
        sym -= 257;
        if (sym >= 29)
            return -1;
        size_t len = length_base[sym] + take(s, length_extra[sym]);
        int d = decode(s, dist);
        if (d < 0 || d >= 30)
            return -1;
        size_t back = distance_base[d] + take(s, distance_extra[d]);
        if (back > s->used)
            return -1;
        unsigned char *to = s->out + s->used, *from = to - back;
        if (back >= len)
            memcpy(to, from, len);
        else
            for (size_t i = 0; i < len; i++)   /* overlapping: a run */
                to[i] = from[i];
        s->used += len;
    }
}

static int dynamic_tables(struct stream *s, struct huffman *lit, struct huffman *dist)
{
    static const unsigned char order[19] = {
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    unsigned char lengths[320];
    unsigned nlit = take(s, 5) + 257, ndist = take(s, 5) + 1, ncode = take(s, 4) + 4;
    if (nlit > 286 || ndist > 30)
        return -1;
    memset(lengths, 0, 19);
    for (unsigned i = 0; i < ncode; i++)
        lengths[order[i]] = (unsigned char)take(s, 3);
    struct huffman lencode;
    if (build(&lencode, lengths, 19) < 0)
        return -1;
    for (unsigned i = 0; i < nlit + ndist; ) {
        int sym = decode(s, &lencode);
        if (sym < 0)
            return -1;
        if (sym < 16) {
            lengths[i++] = (unsigned char)sym;
            continue;
        }
        unsigned char value = 0;
        unsigned repeat;
        if (sym == 16) {
            if (i == 0)
                return -1;
            value = lengths[i - 1];
            repeat = 3 + take(s, 2);
        } else if (sym == 17) {
            repeat = 3 + take(s, 3);
        } else {
            repeat = 11 + take(s, 7);
        }
        if (i + repeat > nlit + ndist)
            return -1;
        while (repeat--)
            lengths[i++] = value;
    }
    if (lengths[256] == 0)
        return -1;                      /* no end code */
    return build(lit, lengths, (int)nlit) < 0 || build(dist, lengths + nlit, (int)ndist) < 0
        ? -1 : 0;
}

static uint32_t adler32(const unsigned char *p, size_t n)
{
    uint32_t a = 1, b = 0;
    while (n > 0) {
        size_t chunk = n < 5552 ? n : 5552;   /* no overflow before the modulo */
        n -= chunk;
        while (chunk--) {
            a += *p++;
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    return b << 16 | a;
}

/* Inflate the zlib stream in[0..len) into s->out; -1 if it is not one. */
static int inflate_all(struct stream *s, const unsigned char *in, size_t len)
{
    static struct huffman fixed_lit, fixed_dist, lit, dist;
    static int fixed_built;
    if (!fixed_built) {
        unsigned char l[288];
        memset(l, 8, 144);
        memset(l + 144, 9, 112);
        memset(l + 256, 7, 24);
        memset(l + 280, 8, 8);
        build(&fixed_lit, l, 288);
        memset(l, 5, 30);
        build(&fixed_dist, l, 30);
        fixed_built = 1;
    }
    if (len < 6 || (in[0] & 0x0f) != 8 || (in[0] << 8 | in[1]) % 31 != 0 || (in[1] & 0x20))
        return -1;                      /* not deflate, or a preset dictionary */
    s->next = in + 2, s->end = in + len - 4;
    s->bits = 0, s->have = 0, s->used = 0, s->no_memory = 0;
    int last;
    do {
        last = (int)take(s, 1);
        unsigned type = take(s, 2);
        if (type == 0) {                /* stored: from the next byte on */
            s->bits >>= s->have & 7;
            s->have -= s->have & 7;
            unsigned n = take(s, 16), check = take(s, 16);
            if (n != (~check & 0xffff) || grow(s, n) < 0)
                return -1;
            for (; n > 0 && s->have > 0; n--)
                s->out[s->used++] = (unsigned char)take(s, 8);
            if (s->next > s->end || (size_t)(s->end - s->next) < n)
                return -1;
            memcpy(s->out + s->used, s->next, n);
            s->used += n, s->next += n;
        } else if (type == 1) {
            if (codes(s, &fixed_lit, &fixed_dist) < 0)
                return -1;
        } else if (type == 2) {
            if (dynamic_tables(s, &lit, &dist) < 0 || codes(s, &lit, &dist) < 0)
                return -1;
        } else {
            return -1;
        }
    } while (!last);
    /* All of the input but the Adler-32, no more, no less. */
    const unsigned char *stop = s->next - s->have / 8;
    if (stop != s->end)
        return -1;
    uint32_t sum = (uint32_t)stop[0] << 24 | (uint32_t)stop[1] << 16 | (uint32_t)stop[2] << 8 | stop[3];
    return sum == adler32(s->out, s->used) ? 0 : -1;
}

/* Inflate `len` bytes of the payload at *off into `out`. -1 with errno 0:
   the data is damaged; with errno set: reading or writing failed. */
static int inflate_out(int in, off_t *off, int out, uint64_t len)
{
    static struct stream s;             /* its output buffer is reused */
    unsigned char *data = len < SIZE_MAX ? malloc((size_t)len + 1) : NULL;
    if (!data)
        return -1;
    if (read_payload(in, data, (size_t)len, *off) < 0) {
        free(data);
        errno = 0;                      /* the file ends early */
        return -1;
    }
    *off += (off_t)len;
    int rc = inflate_all(&s, data, (size_t)len);
    free(data);
    if (rc < 0) {
        errno = s.no_memory ? ENOMEM : 0;
        return -1;
    }
    return write_all(out, (char *)s.out, s.used);
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

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr("0123456789abcdef", s[i]))
            return 0;
    return 1;
}

static void remove_tree(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        unlinkat(dirfd, name, 0);
        return;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            remove_tree(fd, e->d_name);     /* a directory or not, it finds out */
    closedir(d);
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

/*
 * Point the unpacked bootloader (`unc` in the build) at the dynamic loader
 * of the build, <dir>/_internal/<its name>: bundle.py gave its PT_INTERP a
 * slot of 4096 bytes (PATH_MAX) that holds the build host's loader path;
 * only its last component is kept. So unc runs on the C library it was
 * built with, whatever the host has, and /proc/self/exe and argv stay as
 * they are. 0 on success; -1 with errno set (ENOEXEC: no such slot).
 */
#define PT_INTERP 3
#define INTERP_SLOT 4096

static int set_interpreter(int root, const char *dir)
{
    int fd = openat(root, "unc", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    unsigned char eh[64], ph[56];
    uint64_t phoff, offset = 0, size = 0;
    uint16_t phentsize, phnum;
    errno = 0;
    if (read_at(fd, eh, sizeof eh, 0) < 0 || memcmp(eh, "\177ELF\2\1", 6) != 0)
        goto fail;
    memcpy(&phoff, eh + 0x20, 8);
    memcpy(&phentsize, eh + 0x36, 2);
    memcpy(&phnum, eh + 0x38, 2);
    for (unsigned i = 0; i < phnum && phentsize >= sizeof ph; i++) {
        uint32_t type;
        if (read_at(fd, ph, sizeof ph, (off_t)(phoff + (uint64_t)i * phentsize)) < 0)
            goto fail;
        memcpy(&type, ph, 4);
        if (type == PT_INTERP) {
            memcpy(&offset, ph + 8, 8);
            memcpy(&size, ph + 32, 8);
            break;
        }
    }
    if (size != INTERP_SLOT)
        goto fail;
    char slot[INTERP_SLOT], name[NAME_MAX + 1];
    if (read_at(fd, slot, sizeof slot, (off_t)offset) < 0)
        goto fail;
    slot[sizeof slot - 1] = '\0';
    const char *last = strrchr(slot, '/');
    snprintf(name, sizeof name, "%s", last ? last + 1 : slot);
    memset(slot, 0, sizeof slot);
    if (!*name || (size_t)snprintf(slot, sizeof slot, "%s/_internal/%s", dir, name) >= sizeof slot) {
        errno = ENAMETOOLONG;
        goto fail;
    }
    if (pwrite(fd, slot, sizeof slot, (off_t)offset) != (ssize_t)sizeof slot)
        goto fail;
    return close(fd);
fail:
    if (errno == 0)
        errno = ENOEXEC;                /* not the bootloader bundle.py prepared */
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

/* Unpack the entries into base/name (which must not exist); 0 on success.
   `final` is the directory it will be renamed to. */
static int unpack(int self, const struct trailer *t, int base, const char *name,
                  const char *final)
{
    if (mkdirat(base, name, 0700) < 0) {
        say("cannot create %s: %s", name, strerror(errno));
        return -1;
    }
    int root = openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0) {
        say("cannot open %s: %s", name, strerror(errno));
        return -1;
    }
    crc_init();
    off_t off = (off_t)t->offset, end = (off_t)(t->offset + t->size);
    char path[PATH_MAX], target[PATH_MAX];
    while (off < end) {
        unsigned char head[17];         /* type, mode, path length, data length */
        if (read_payload(self, head, sizeof head, off) < 0)
            goto damaged;
        uint32_t mode, plen;
        uint64_t dlen;
        memcpy(&mode, head + 1, 4);
        memcpy(&plen, head + 5, 4);
        memcpy(&dlen, head + 9, 8);
        off += (off_t)sizeof head;
        if (plen == 0 || plen >= sizeof path || read_payload(self, path, plen, off) < 0)
            goto damaged;
        path[plen] = '\0';
        off += plen;
        if (!safe_path(path))
            goto damaged;
        int ok;
        switch (head[0]) {
        case 'd':
            ok = mkdirat(root, path, 0700 | (mode & 0755)) == 0;
            break;
        case 'l':
            if (dlen >= sizeof target || read_payload(self, target, dlen, off) < 0)
                goto damaged;
            target[dlen] = '\0';
            off += (off_t)dlen;
            ok = symlinkat(target, root, path) == 0;
            break;
        case 'f': {
            if (dlen > (uint64_t)(end - off))
                goto damaged;           /* more than the payload holds */
            int fd = openat(root, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                            0600 | (mode & 0755));
            if (fd < 0) {
                ok = 0;
                break;
            }
            ok = inflate_out(self, &off, fd, dlen) == 0;
            if (!ok && errno == 0) {
                close(fd);
                goto damaged;
            }
            if (close(fd) < 0)
                ok = 0;
            break;
        }
        default:
            goto damaged;
        }
        if (!ok) {
            say("cannot unpack %s/%s: %s", name, path, strerror(errno));
            close(root);
            return -1;
        }
    }
    char sum[9];
    snprintf(sum, sizeof sum, "%08x", crc ^ 0xffffffffu);
    if (memcmp(sum, t->id, 8) != 0)
        goto damaged;
    if (set_interpreter(root, final) < 0) {
        say("cannot set up %s/unc: %s", name, strerror(errno));
        close(root);
        return -1;
    }
    /* Written last: a directory without it is an unpacking that died. */
    int fd = openat(root, ".complete", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || close(fd) < 0) {
        say("cannot finish %s: %s", name, strerror(errno));
        close(root);
        return -1;
    }
    close(root);
    return 0;
damaged:
    close(root);
    remove_tree(base, name);
    die("this unc binary is damaged (its contents do not match its build id); copy it again");
    return -1;
}

/* Make `path` exist as a directory that only we control; its fd, or -1. */
static int usable_dir(const char *path)
{
    if (mkdir(path, 0700) < 0 && errno != EEXIST) {
        say("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        say("cannot use %s: %s", path, strerror(errno == ELOOP ? ENOTDIR : errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (st.st_uid == geteuid() && !(st.st_mode & 022) && (st.st_mode & 0700) != 0700)
        fchmod(fd, (st.st_mode & 0777) | 0700);     /* made under a umask like 0277 */
    else if (st.st_uid != geteuid() || (st.st_mode & 022)) {
        say("%s is not a directory that only you may change", path);
        close(fd);
        return -1;
    }
    return fd;
}

/* Remove what is ours and unused: other builds, unpackings that died. */
static void remove_stale(int base, const char *id)
{
    int fd = dup(base);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    time_t now = time(NULL);
    struct dirent *e;
    char mark[NAME_MAX + 16];
    struct stat st;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (strncmp(n, ".unpacking-", 11) == 0 && is_hex(n + 11, ID_LEN) && n[11 + ID_LEN] == '-') {
            if (fstatat(base, n, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)
                    && now - st.st_mtime > STALE_UNPACKING)
                remove_tree(base, n);
        } else if (strncmp(n, "build-", 6) == 0 && strlen(n) == 6 + ID_LEN
                   && is_hex(n + 6, ID_LEN) && strcmp(n + 6, id) != 0) {
            snprintf(mark, sizeof mark, "%s/.complete", n);
            if (fstatat(base, mark, &st, AT_SYMLINK_NOFOLLOW) == 0
                    && now - st.st_mtime > STALE_BUILD)
                remove_tree(base, n);
        }
    }
    closedir(d);
}

/* The caller's LD_LIBRARY_PATH (NULL: unset), before we change it. */
static const char *caller_library_path;

/*
 * Set what PyInstaller's one-dir bootloader sets before it executes itself a
 * second time (bootloader/src/pyi_main.c, PyInstaller 6): started plainly, it
 * prepends its _internal directory to LD_LIBRARY_PATH, keeping the caller's
 * value in LD_LIBRARY_PATH_ORIG, and must then restart, because the dynamic
 * loader reads LD_LIBRARY_PATH only when a program starts. Found set with its
 * own archive path (the realpath of /proc/self/exe), it takes itself for its
 * restarted self and goes on: one exec and one loading of its libraries
 * less, about 1 ms. Should any of it not match, it resets them and restarts
 * as before: slower, never different. unc removes them all again for the
 * programs it starts (core/execvp.py, clean_environ).
 */
static void as_restarted_bootloader(const char *exe)
{
    char real[PATH_MAX], libs[2 * PATH_MAX + 16], name[17] = "";
    if (!realpath(exe, real))
        return;
    char *slash = strrchr(real, '/');
    snprintf(libs, sizeof libs, "%.*s/_internal%s%s", (int)(slash - real), real,
             caller_library_path ? ":" : "", caller_library_path ? caller_library_path : "");
    if (caller_library_path)
        setenv("LD_LIBRARY_PATH_ORIG", caller_library_path, 1);
    setenv("LD_LIBRARY_PATH", libs, 1);
    setenv("_PYI_ARCHIVE_FILE", real, 1);
    setenv("_PYI_PARENT_PROCESS_LEVEL", "-1", 1);     /* PYI_PROCESS_LEVEL_PARENT_NEEDS_RESTART */
    if (prctl(PR_GET_NAME, name, 0, 0, 0) == 0)
        setenv("_PYI_LINUX_PROCESS_NAME", name, 1);
}

/* Run unc from the cache directory `path`, unpacking it first if needed;
   returns only on failure. */
static void run_from(const char *path, int self, const struct trailer *t,
                     const char *id, char **argv, mode_t umask_of_caller)
{
    if (strlen(path) > PATH_MAX - 128) {
        say("%.64s...: path too long", path);
        return;
    }
    int base = usable_dir(path);
    if (base < 0)
        return;
    char name[16 + ID_LEN], fresh[64 + ID_LEN], exe[PATH_MAX], dir[PATH_MAX];
    snprintf(name, sizeof name, "build-%s", id);
    snprintf(dir, sizeof dir, "%s/%s", path, name);
    snprintf(exe, sizeof exe, "%s/%s/unc", path, name);
    char mark[32 + ID_LEN];
    snprintf(mark, sizeof mark, "%s/.complete", name);
    struct stat st;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (fstatat(base, mark, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            snprintf(fresh, sizeof fresh, ".unpacking-%s-%d", id, (int)getpid());
            if (unpack(self, t, base, fresh, dir) < 0) {
                remove_tree(base, fresh);
                /* Out of space, say, because others unpack at the same time:
                   one of them may have finished. */
                if (fstatat(base, mark, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                    close(base);
                    return;
                }
            } else if (renameat(base, fresh, base, name) < 0) {
                int saved = errno;
                remove_tree(base, fresh);
                /* Another start put its own in place first: use that. */
                if (fstatat(base, mark, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                    say("cannot put %s/%s in place: %s", path, name, strerror(saved));
                    close(base);
                    return;
                }
            } else {
                remove_stale(base, id);
            }
        } else {
            /* Mark this build as in use, for remove_stale() of other builds;
               once an hour is enough for a week's limit, and spares the
               file system a metadata write at every start. */
            if (st.st_mtime < time(NULL) - 3600)
                utimensat(base, mark, NULL, AT_SYMLINK_NOFOLLOW);
        }
        umask(umask_of_caller);
        as_restarted_bootloader(exe);
        execv(exe, argv);
        int err = errno;
        umask(077);
        if (err != ENOENT || attempt > 0) {
            say("cannot execute %s: %s%s", exe, strerror(err),
                err == EACCES || err == EPERM ? " (a noexec mount?)" : "");
            break;
        }
        /* Its program is gone (removed by hand?): set the build aside,
           remove it, and unpack it once more. */
        char aside[64 + ID_LEN];
        snprintf(aside, sizeof aside, ".unpacking-%s-%d-broken", id, (int)getpid());
        if (renameat(base, name, base, aside) == 0)
            remove_tree(base, aside);
    }
    close(base);
}

/* A directory of this user's: $HOME under sudo may well be someone else's. */
static int mine(const char *path)
{
    struct stat st;
    return *path == '/' && stat(path, &st) == 0 && S_ISDIR(st.st_mode)
        && st.st_uid == geteuid();
}

/* Where another user holds tmp/unc-<uid>: one of ours named tmp/unc-<uid>.XXXXXX. */
static void private_tmp(const char *tmp, char *out)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "unc-%u.", (unsigned)geteuid());
    DIR *d = opendir(tmp);
    struct dirent *e;
    struct stat st;
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        snprintf(out, PATH_MAX, "%s/%s", tmp, e->d_name);
        if (lstat(out, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid()
                && (st.st_mode & 0777) == 0700) {
            closedir(d);
            return;
        }
    }
    if (d)
        closedir(d);
    snprintf(out, PATH_MAX, "%s/%sXXXXXX", tmp, prefix);
    if (!mkdtemp(out))
        snprintf(out, PATH_MAX, "%s/%s", tmp, prefix);   /* fails in usable_dir */
}

int main(int argc, char **argv)
{
    (void)argc;
    mode_t umask_of_caller = umask(077);    /* the cache is ours alone */
    int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (self < 0 && errno == EACCES)
        die("cannot read this unc binary: it must be readable as well as "
            "executable (mode 0755)");
    if (self < 0)
        die("cannot open /proc/self/exe (%s): unc needs /proc", strerror(errno));
    struct stat st;
    struct trailer t;
    if (fstat(self, &st) < 0 || st.st_size < (off_t)sizeof t
            || read_at(self, &t, sizeof t, st.st_size - (off_t)sizeof t) < 0
            || memcmp(t.magic, MAGIC, 8) != 0
            || t.offset + t.size + sizeof t != (uint64_t)st.st_size
            || !is_hex(t.id, ID_LEN))
        die("this unc binary is damaged (no unc payload at its end); copy it again");
    char id[ID_LEN + 1];
    memcpy(id, t.id, ID_LEN);
    id[ID_LEN] = '\0';

    caller_library_path = getenv("LD_LIBRARY_PATH");
    if (caller_library_path)
        caller_library_path = strdup(caller_library_path);   /* setenv replaces it */

    const char *v = getenv("UNC_CACHE_DIR");
    if (v && *v) {
        if (*v != '/')
            die("UNC_CACHE_DIR must be an absolute path, not %s", v);
        run_from(v, self, &t, id, argv, umask_of_caller);
        die("cannot start from UNC_CACHE_DIR: %s", problems);
    }

    char path[PATH_MAX];
    const char *home = getenv("HOME");
    if ((v = getenv("XDG_CACHE_HOME")) && *v == '/') {
        if (!mine(v) && home && mine(home) && strncmp(v, home, strlen(home)) == 0)
            mkdir(v, 0700);             /* created when missing, as XDG says */
        if (mine(v)) {
            snprintf(path, sizeof path, "%s/unc", v);
            run_from(path, self, &t, id, argv, umask_of_caller);
        }
    } else if (home && strcmp(home, "/") != 0 && mine(home)) {
        snprintf(path, sizeof path, "%s/.cache", home);
        mkdir(path, 0700);              /* the XDG default; fine if it exists */
        snprintf(path, sizeof path, "%s/.cache/unc", home);
        run_from(path, self, &t, id, argv, umask_of_caller);
    }
    if ((v = getenv("XDG_RUNTIME_DIR")) && mine(v)) {
        snprintf(path, sizeof path, "%s/unc", v);
        run_from(path, self, &t, id, argv, umask_of_caller);
    }
    v = getenv("TMPDIR");
    const char *tmp = v && *v == '/' ? v : "/tmp";
    snprintf(path, sizeof path, "%s/unc-%u", tmp, (unsigned)geteuid());
    struct stat held;
    if (lstat(path, &held) == 0 && held.st_uid != geteuid())
        private_tmp(tmp, path);
    run_from(path, self, &t, id, argv, umask_of_caller);
    die("cannot start: no cache directory works (%s); set UNC_CACHE_DIR to a "
        "directory of yours that allows executing programs", problems);
}
