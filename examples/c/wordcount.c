// Word count in C: `wordcount INPUT OUTPUT_DIR`, the same job as the Rust
// example (examples/wordcount): words split on Unicode whitespace, counted,
// written as `word<TAB>count` lines, and the ten most frequent printed.
//
// It implements the `spindle:job/job` world directly with the bindings
// wit-bindgen generates (job.h): `app.run` builds the plan with three ops named
// by short strings, and `task.run` applies them to the records of a task.
// Records use the recommended encoding: a word is its UTF-8 bytes (the key), a
// count is an 8-byte big-endian integer (the value).

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

// ---- frames: uleb128 lengths, see wit/job.wit --------------------------------

static int read_uleb(const uint8_t **p, const uint8_t *end, uint32_t *out) {
  uint32_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (*p >= end) return 0;
    uint8_t b = *(*p)++;
    v |= (uint32_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 1;
    }
  }
  return 0;
}

typedef struct {
  uint8_t *ptr;
  size_t len, cap;
} buf_t;

static void buf_reserve(buf_t *b, size_t more) {
  if (b->len + more <= b->cap) return;
  size_t cap = b->cap ? b->cap * 2 : 1 << 16;
  while (cap < b->len + more) cap *= 2;
  b->ptr = realloc(b->ptr, cap);
  if (!b->ptr) abort();
  b->cap = cap;
}

static void buf_uleb(buf_t *b, uint32_t v) {
  buf_reserve(b, 5);
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    b->ptr[b->len++] = byte | (v ? 0x80 : 0);
  } while (v);
}

static void buf_bytes(buf_t *b, const uint8_t *p, size_t n) {
  buf_reserve(b, n);
  memcpy(b->ptr + b->len, p, n);
  b->len += n;
}

// Appends one record; `key` NULL means no key.
static void buf_record(buf_t *b, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen) {
  buf_uleb(b, key ? (uint32_t)klen + 1 : 0);
  if (key) buf_bytes(b, key, klen);
  buf_uleb(b, (uint32_t)vlen);
  buf_bytes(b, value, vlen);
}

static void put_u64(uint8_t out[8], uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) out[i] = (uint8_t)v;
}

static uint64_t get_u64(const uint8_t *p, size_t len) {
  uint64_t v = 0;
  for (size_t i = 0; i < len && i < 8; i++) v = (v << 8) | p[i];
  return v;
}

// ---- a hash map from key bytes to a count ------------------------------------

typedef struct {
  uint8_t *key;
  size_t len;
  uint64_t count;
  int used;
} slot_t;

typedef struct {
  slot_t *slots;
  size_t cap, len;
} counts_t;

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static void counts_add(counts_t *m, const uint8_t *key, size_t len, uint64_t n);

static void counts_grow(counts_t *m) {
  counts_t bigger = {calloc(m->cap ? m->cap * 2 : 1024, sizeof(slot_t)), m->cap ? m->cap * 2 : 1024, 0};
  if (!bigger.slots) abort();
  for (size_t i = 0; i < m->cap; i++) {
    slot_t *s = &m->slots[i];
    if (s->used) {
      size_t j = fnv1a(s->key, s->len) & (bigger.cap - 1);
      while (bigger.slots[j].used) j = (j + 1) & (bigger.cap - 1);
      bigger.slots[j] = *s;
      bigger.len++;
    }
  }
  free(m->slots);
  *m = bigger;
}

static void counts_add(counts_t *m, const uint8_t *key, size_t len, uint64_t n) {
  if ((m->len + 1) * 4 > m->cap * 3) counts_grow(m);
  size_t i = fnv1a(key, len) & (m->cap - 1);
  while (m->slots[i].used) {
    slot_t *s = &m->slots[i];
    if (s->len == len && memcmp(s->key, key, len) == 0) {
      s->count += n;
      return;
    }
    i = (i + 1) & (m->cap - 1);
  }
  slot_t *s = &m->slots[i];
  s->key = malloc(len ? len : 1);
  if (!s->key) abort();
  memcpy(s->key, key, len);
  s->len = len;
  s->count = n;
  s->used = 1;
  m->len++;
}

// ---- Unicode whitespace, as Rust's char::is_whitespace ------------------------

static int is_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
         c == 0x3000;
}

// Decodes one UTF-8 code point at p (valid UTF-8 is assumed; a stray byte
// counts as one non-space character). Returns its length.
static size_t decode(const uint8_t *p, size_t n, uint32_t *c) {
  uint8_t b = p[0];
  if (b < 0x80 || n < 2) return *c = b, 1;
  if ((b & 0xe0) == 0xc0) return *c = ((uint32_t)(b & 0x1f) << 6) | (p[1] & 0x3f), 2;
  if ((b & 0xf0) == 0xe0 && n >= 3) return *c = ((uint32_t)(b & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f), 3;
  if ((b & 0xf8) == 0xf0 && n >= 4)
    return *c = ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) | ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f), 4;
  return *c = b, 1;
}

// ---- the task: steps over records ---------------------------------------------

enum op { OP_SPLIT, OP_ADD, OP_FORMAT };

static int op_of(const spindle_job_types_op_t *op, enum op *out) {
  if (op->len == 5 && !memcmp(op->ptr, "split", 5)) return *out = OP_SPLIT, 1;
  if (op->len == 3 && !memcmp(op->ptr, "add", 3)) return *out = OP_ADD, 1;
  if (op->len == 6 && !memcmp(op->ptr, "format", 6)) return *out = OP_FORMAT, 1;
  return 0;
}

typedef struct {
  enum op *ops;
  counts_t *maps;  // one per step (used by `add`)
  size_t n;
  buf_t out;
} chain_t;

static void flush(chain_t *ch) {
  if (ch->out.len == 0) return;
  spindle_job_task_io_batch_t batch = {ch->out.ptr, ch->out.len};
  spindle_job_task_io_write(&batch);
  ch->out.len = 0;
}

// Pushes one record into step i (i == n: the task's output).
static void push(chain_t *ch, size_t i, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen) {
  if (i == ch->n) {
    buf_record(&ch->out, key, klen, value, vlen);
    if (ch->out.len >= (64 << 10)) flush(ch);
    return;
  }
  switch (ch->ops[i]) {
    case OP_SPLIT: {
      uint8_t one[8];
      put_u64(one, 1);
      size_t at = 0, start = 0;
      int in_word = 0;
      while (at < vlen) {
        uint32_t c;
        size_t len = decode(value + at, vlen - at, &c);
        if (is_space(c)) {
          if (in_word) push(ch, i + 1, value + start, at - start, one, 8);
          in_word = 0;
        } else if (!in_word) {
          in_word = 1;
          start = at;
        }
        at += len;
      }
      if (in_word) push(ch, i + 1, value + start, vlen - start, one, 8);
      break;
    }
    case OP_ADD:
      counts_add(&ch->maps[i], key ? key : (const uint8_t *)"", key ? klen : 0, get_u64(value, vlen));
      break;
    case OP_FORMAT: {
      char digits[24];
      int d = snprintf(digits, sizeof digits, "%llu", (unsigned long long)get_u64(value, vlen));
      uint8_t *line = malloc(klen + 1 + (size_t)d);
      if (!line) abort();
      memcpy(line, key, klen);
      line[klen] = '\t';
      memcpy(line + klen + 1, digits, (size_t)d);
      push(ch, i + 1, NULL, 0, line, klen + 1 + (size_t)d);
      free(line);
      break;
    }
  }
}

bool exports_spindle_job_task_run(exports_spindle_job_task_list_step_t *steps, job_string_t *err) {
  chain_t ch = {calloc(steps->len + 1, sizeof(enum op)), calloc(steps->len + 1, sizeof(counts_t)), steps->len, {0}};
  for (size_t i = 0; i < steps->len; i++) {
    if (!op_of(&steps->ptr[i].val.narrow, &ch.ops[i])) {
      job_string_dup(err, "wordcount-c: unknown op");
      exports_spindle_job_task_list_step_free(steps);
      return false;
    }
  }
  exports_spindle_job_task_list_step_free(steps);
  spindle_job_task_io_batch_t batch;
  while (spindle_job_task_io_read(&batch)) {
    const uint8_t *p = batch.ptr, *end = batch.ptr + batch.len;
    while (p < end) {
      uint32_t k, v;
      const uint8_t *key = NULL;
      if (!read_uleb(&p, end, &k)) goto malformed;
      if (k) {
        key = p;
        if ((size_t)(end - p) < k - 1) goto malformed;
        p += k - 1;
      }
      if (!read_uleb(&p, end, &v) || (size_t)(end - p) < v) goto malformed;
      push(&ch, 0, key, k ? k - 1 : 0, p, v);
      p += v;
    }
    spindle_job_task_io_batch_free(&batch);
  }
  // The input ended: each `add` emits its sums, in step order.
  for (size_t i = 0; i < ch.n; i++) {
    if (ch.ops[i] != OP_ADD) continue;
    counts_t *m = &ch.maps[i];
    for (size_t s = 0; s < m->cap; s++) {
      if (!m->slots[s].used) continue;
      uint8_t sum[8];
      put_u64(sum, m->slots[s].count);
      push(&ch, i + 1, m->slots[s].key, m->slots[s].len, sum, 8);
    }
  }
  flush(&ch);
  return true;
malformed:
  job_string_dup(err, "wordcount-c: a malformed input batch");
  return false;
}

// ---- main, on the driver ------------------------------------------------------

typedef struct {
  uint8_t *word;
  size_t len;
  uint64_t count;
} entry_t;

static int by_count_then_word(const void *a, const void *b) {
  const entry_t *x = a, *y = b;
  if (x->count != y->count) return x->count < y->count ? 1 : -1;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->word, y->word, n);
  if (c) return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

static spindle_job_context_own_dataset_t narrow(spindle_job_context_own_dataset_t ds, const char *name) {
  spindle_job_context_op_t op = {(uint8_t *)name, strlen(name)};
  return spindle_job_context_method_dataset_narrow(spindle_job_context_borrow_dataset(ds), &op);
}

static bool fail(job_string_t *err, const char *what, job_string_t *why) {
  char *msg = malloc(strlen(what) + why->len + 3);
  if (!msg) abort();
  sprintf(msg, "%s: %.*s", what, (int)why->len, (const char *)why->ptr);
  job_string_dup(err, msg);
  free(msg);
  return false;
}

bool exports_spindle_job_app_run(job_list_string_t *args, job_string_t *err) {
  if (args->len != 2) {
    job_string_dup(err, "usage: wordcount INPUT OUTPUT_DIR");
    return false;
  }
  job_string_t why;
  spindle_job_context_own_dataset_t lines, words, counts, out;
  if (!spindle_job_context_text_file(&args->ptr[0], NULL, &lines, &why)) return fail(err, "text-file", &why);
  words = narrow(lines, "split");
  spindle_job_context_op_t add = {(uint8_t *)"add", 3};
  counts = spindle_job_context_method_dataset_reduce_by_key(spindle_job_context_borrow_dataset(words), &add, NULL);
  out = narrow(counts, "format");
  if (!spindle_job_context_method_dataset_save_as_text_file(spindle_job_context_borrow_dataset(out), &args->ptr[1], &why))
    return fail(err, "save-as-text-file", &why);

  // A second action over the same counts reuses the shuffle the first one wrote.
  spindle_job_context_batch_t all;
  if (!spindle_job_context_method_dataset_collect(spindle_job_context_borrow_dataset(counts), &all, &why))
    return fail(err, "collect", &why);
  size_t n = 0, cap = 1024;
  entry_t *entries = malloc(cap * sizeof(entry_t));
  const uint8_t *p = all.ptr, *end = all.ptr + all.len;
  while (p < end) {
    uint32_t k, v;
    if (!read_uleb(&p, end, &k) || k == 0) break;
    const uint8_t *key = p;
    p += k - 1;
    if (!read_uleb(&p, end, &v)) break;
    if (n == cap) entries = realloc(entries, (cap *= 2) * sizeof(entry_t));
    entries[n++] = (entry_t){(uint8_t *)key, k - 1, get_u64(p, v)};
    p += v;
  }
  qsort(entries, n, sizeof(entry_t), by_count_then_word);
  printf("%zu distinct words; the most frequent:\n", n);
  for (size_t i = 0; i < n && i < 10; i++) {
    printf("%10llu  %.*s\n", (unsigned long long)entries[i].count, (int)entries[i].len, (const char *)entries[i].word);
  }
  fflush(stdout);
  free(entries);
  spindle_job_context_batch_free(&all);
  spindle_job_context_dataset_drop_own(out);
  spindle_job_context_dataset_drop_own(counts);
  spindle_job_context_dataset_drop_own(words);
  spindle_job_context_dataset_drop_own(lines);
  job_list_string_free(args);
  return true;
}
