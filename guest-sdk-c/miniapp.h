/* miniapp.h — mini-programs in C for miniapp's ABI 1.0 (docs/abi.md).
 *
 * One header: the host functions of every capability (each imported only if the
 * program calls it), the ABI's status codes, the exports a program needs, and a
 * small JSON helper — a builder that escapes strings for requests, and lookups
 * of one member in a reply or an event.
 *
 * Build on Debian with clang, lld, wasi-libc and libclang-rt-14-dev-wasm32:
 *
 *     clang --target=wasm32-wasi -O2 -mexec-model=reactor -o app.wasm app.c
 *
 * In exactly one file, before including it:
 *
 *     #define MINIAPP_IMPLEMENTATION
 *     #include "miniapp.h"
 *
 * and define the two callbacks the implementation exports for you:
 *
 *     int app_on_launch(const char *context, size_t len);  // the launch context, JSON
 *     int app_on_event(const char *event, size_t len);     // an event, JSON
 *
 * Each returns a status: MINIAPP_OK (0) when handled, else an error code. The
 * message is the host's gift to the program (docs/abi.md §5); the implementation
 * frees it after the callback returns, so do not keep a pointer into it.
 */
#ifndef MINIAPP_H
#define MINIAPP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The status of a callback or a host call (docs/abi.md §8). */
enum miniapp_status {
    MINIAPP_OK = 0,
    MINIAPP_INVALID_ARGUMENT = 1,
    MINIAPP_CAPABILITY_DENIED = 2,
    MINIAPP_USER_CANCELLED = 3,
    MINIAPP_QUOTA_EXCEEDED = 4,
    MINIAPP_LIMIT_EXCEEDED = 5,
    MINIAPP_UNAVAILABLE = 6,
    MINIAPP_INTERNAL = 7,
    MINIAPP_NOT_FOUND = 8,
    MINIAPP_IDEMPOTENCY_CONFLICT = 9,
    MINIAPP_UNSUPPORTED = 10,
};

/* A host call's reply: the function's result (status 0) or an error object
 * `{"code": …, "message": …}`. The bytes are the program's: free them with
 * miniapp_reply_free. A NUL follows them (the allocator keeps a byte for it), so
 * `data` reads as a C string; `len` does not count it. An empty reply is NULL. */
typedef struct {
    char *data;
    size_t len;
} miniapp_reply;

/* Where the host writes the reply's pointer and length (docs/abi.md §6.1). */
typedef struct {
    uint32_t ptr;
    uint32_t len;
} miniapp_reply_slot;

void miniapp_reply_free(miniapp_reply *reply);

#define MINIAPP__IMPORT(capability, function, name)                                                          \
    __attribute__((import_module("miniapp:" capability), import_name(function))) int32_t miniapp__##name(     \
        const char *request, int32_t request_len, miniapp_reply_slot *reply);                                 \
    /* Calls miniapp:<capability>.<function> with a JSON request of `len` bytes (0 for {}). The reply      \
     * goes to `reply` (pass NULL to drop it). Returns the status. */                                       \
    static inline int32_t miniapp_##name(const char *request, size_t len, miniapp_reply *reply) {           \
        miniapp_reply_slot slot = {0, 0};                                                                     \
        int32_t status = miniapp__##name(request, (int32_t)len, &slot);                                       \
        miniapp_reply got = {(char *)(uintptr_t)slot.ptr, slot.len};                                          \
        if (reply) *reply = got;                                                                              \
        else miniapp_reply_free(&got);                                                                        \
        return status;                                                                                        \
    }

/* miniapp:storage (§6.3) */
MINIAPP__IMPORT("storage", "set", storage_set)
MINIAPP__IMPORT("storage", "get", storage_get)
MINIAPP__IMPORT("storage", "remove", storage_remove)
MINIAPP__IMPORT("storage", "keys", storage_keys)
MINIAPP__IMPORT("storage", "clear", storage_clear)
MINIAPP__IMPORT("storage", "info", storage_info)
/* miniapp:link (§6.4) */
MINIAPP__IMPORT("link", "open", link_open)
MINIAPP__IMPORT("link", "share", link_share)
/* miniapp:identity (§6.5) */
MINIAPP__IMPORT("identity", "user_id", identity_user_id)
MINIAPP__IMPORT("identity", "union_id", identity_union_id)
MINIAPP__IMPORT("identity", "authorize", identity_authorize)
MINIAPP__IMPORT("identity", "profile", identity_profile)
MINIAPP__IMPORT("identity", "phone", identity_phone)
MINIAPP__IMPORT("identity", "address", identity_address)
/* miniapp:payment (§6.6) */
MINIAPP__IMPORT("payment", "request", payment_request)
MINIAPP__IMPORT("payment", "query", payment_query)
MINIAPP__IMPORT("payment", "close", payment_close)
MINIAPP__IMPORT("payment", "refund", payment_refund)
/* miniapp:view (§6.7) */
MINIAPP__IMPORT("view", "render", view_render)
MINIAPP__IMPORT("view", "navigate", view_navigate)
MINIAPP__IMPORT("view", "redirect", view_redirect)
MINIAPP__IMPORT("view", "back", view_back)

/* ---- JSON: building requests ------------------------------------------------ */

/* A growing JSON text. Start with `miniapp_json j = {0};`; every append is
 * checked; if memory ran out, `failed` is set and the text stays as it was. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
} miniapp_json;

/* Appends `text` as it is (JSON punctuation, keys, literals). */
void miniapp_json_raw(miniapp_json *json, const char *text);
/* Appends `text` (UTF-8) as a quoted JSON string, escaping what must be. */
void miniapp_json_string(miniapp_json *json, const char *text);
/* Appends an integer. */
void miniapp_json_int(miniapp_json *json, long long value);
void miniapp_json_free(miniapp_json *json);

/* ---- JSON: reading replies and events ------------------------------------ */

/* The first member named `key` anywhere in `json` (`len` bytes), if it is a
 * string: unescaped into `out` (`cap` bytes, NUL-terminated). False when there is
 * no such member, it is not a string, or it does not fit. A lookup, not a parser:
 * enough for an event's `action` or a reply's `outcome`; for nested documents
 * with repeated names, use a JSON parser. */
bool miniapp_json_get_string(const char *json, size_t len, const char *key, char *out, size_t cap);
/* The same for an integer member. */
bool miniapp_json_get_int(const char *json, size_t len, const char *key, long long *out);

/* ---- The implementation ------------------------------------------------------ */

#ifdef MINIAPP_IMPLEMENTATION

int app_on_launch(const char *context, size_t len);
int app_on_event(const char *event, size_t len);

/* The ABI version this program speaks (docs/abi.md §3). */
__attribute__((export_name("miniapp_abi_v1_0"))) void miniapp_abi_v1_0(void) {}

/* The host asks for room for each message and reply (§5). One byte more is kept
 * for a NUL after the message, so replies can be read as C strings. */
__attribute__((export_name("miniapp_alloc"))) int32_t miniapp_alloc(int32_t size) {
    if (size <= 0) return 0;
    char *room = malloc((size_t)size + 1);
    if (!room) return 0;
    room[size] = '\0';
    return (int32_t)(uintptr_t)room;
}

void miniapp_reply_free(miniapp_reply *reply) {
    free(reply->data);
    reply->data = NULL;
    reply->len = 0;
}

__attribute__((export_name("miniapp_on_launch"))) int32_t miniapp_on_launch(int32_t ptr, int32_t len) {
    char *message = (char *)(uintptr_t)ptr;
    int status = app_on_launch(message ? message : "", (size_t)len);
    free(message);
    return status;
}

__attribute__((export_name("miniapp_on_event"))) int32_t miniapp_on_event(int32_t ptr, int32_t len) {
    char *message = (char *)(uintptr_t)ptr;
    int status = app_on_event(message ? message : "", (size_t)len);
    free(message);
    return status;
}

static void miniapp__append(miniapp_json *json, const char *bytes, size_t count) {
    if (json->failed) return;
    if (json->len + count + 1 > json->cap) {
        size_t cap = json->cap ? json->cap : 64;
        while (cap < json->len + count + 1) cap *= 2;
        char *grown = realloc(json->data, cap);
        if (!grown) {
            json->failed = true;
            return;
        }
        json->data = grown;
        json->cap = cap;
    }
    memcpy(json->data + json->len, bytes, count);
    json->len += count;
    json->data[json->len] = '\0';
}

void miniapp_json_raw(miniapp_json *json, const char *text) { miniapp__append(json, text, strlen(text)); }

void miniapp_json_string(miniapp_json *json, const char *text) {
    miniapp__append(json, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        char escaped[8];
        switch (*c) {
        case '"': miniapp__append(json, "\\\"", 2); break;
        case '\\': miniapp__append(json, "\\\\", 2); break;
        case '\n': miniapp__append(json, "\\n", 2); break;
        case '\r': miniapp__append(json, "\\r", 2); break;
        case '\t': miniapp__append(json, "\\t", 2); break;
        default:
            if (*c < 0x20) {
                snprintf(escaped, sizeof escaped, "\\u%04x", *c);
                miniapp__append(json, escaped, 6);
            } else {
                miniapp__append(json, (const char *)c, 1);
            }
        }
    }
    miniapp__append(json, "\"", 1);
}

void miniapp_json_int(miniapp_json *json, long long value) {
    char digits[24];
    int count = snprintf(digits, sizeof digits, "%lld", value);
    if (count > 0) miniapp__append(json, digits, (size_t)count);
}

void miniapp_json_free(miniapp_json *json) {
    free(json->data);
    *json = (miniapp_json){0};
}

/* Where the value of the first member `key` starts (after its colon and any
 * space), or NULL. */
static const char *miniapp__member(const char *json, size_t len, const char *key) {
    size_t key_len = strlen(key);
    const char *end = json + len;
    for (const char *at = json; at + key_len + 2 <= end; at++) {
        if (*at != '"' || memcmp(at + 1, key, key_len) != 0 || at[key_len + 1] != '"') continue;
        const char *value = at + key_len + 2;
        while (value < end && (*value == ' ' || *value == '\n' || *value == '\t' || *value == '\r')) value++;
        if (value >= end || *value != ':') continue;
        value++;
        while (value < end && (*value == ' ' || *value == '\n' || *value == '\t' || *value == '\r')) value++;
        return value < end ? value : NULL;
    }
    return NULL;
}

bool miniapp_json_get_string(const char *json, size_t len, const char *key, char *out, size_t cap) {
    const char *value = miniapp__member(json, len, key);
    const char *end = json + len;
    if (!value || *value != '"' || cap == 0) return false;
    size_t written = 0;
    for (const char *c = value + 1; c < end; c++) {
        char byte = *c;
        if (byte == '"') {
            out[written] = '\0';
            return true;
        }
        if (byte == '\\') {
            if (++c >= end) return false;
            switch (*c) {
            case 'n': byte = '\n'; break;
            case 't': byte = '\t'; break;
            case 'r': byte = '\r'; break;
            case 'b': byte = '\b'; break;
            case 'f': byte = '\f'; break;
            case 'u': return false; /* \u escapes: use a JSON parser */
            default: byte = *c;
            }
        }
        if (written + 1 >= cap) return false;
        out[written++] = byte;
    }
    return false;
}

bool miniapp_json_get_int(const char *json, size_t len, const char *key, long long *out) {
    const char *value = miniapp__member(json, len, key);
    const char *end = json + len;
    if (!value) return false;
    bool negative = value < end && *value == '-';
    if (negative) value++;
    if (value >= end || *value < '0' || *value > '9') return false;
    long long number = 0;
    for (; value < end && *value >= '0' && *value <= '9'; value++) {
        if (number > (LLONG_MAX - (*value - '0')) / 10) return false;
        number = number * 10 + (*value - '0');
    }
    *out = negative ? -number : number;
    return true;
}

#endif /* MINIAPP_IMPLEMENTATION */
#endif /* MINIAPP_H */
