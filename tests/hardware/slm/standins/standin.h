/* Shared recorder of the SDK stand-ins: every call appends one line to a log the test reads back;
 * a test can make any named function fail with a given code. STAND-IN for tests only: it implements the
 * documented C signatures of a vendor SDK that cannot be installed here, not the SDK itself. */
#include <stdio.h>
#include <string.h>
#include <stdarg.h>
#include <stdlib.h>

static char g_log[1 << 16];
static size_t g_len = 0;
static char g_fail_name[64] = "";
static int g_fail_code = 0;
static unsigned char *g_image = NULL;
static size_t g_image_len = 0;

static void rec(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g_log + g_len, sizeof(g_log) - g_len - 2, fmt, ap);
    va_end(ap);
    if (n > 0 && g_len + (size_t)n < sizeof(g_log) - 2) { g_len += (size_t)n; g_log[g_len++] = '\n'; g_log[g_len] = 0; }
}

/* 1 when `name` was told to fail (its code in *code). */
static int failing(const char *name, int *code) {
    if (strcmp(g_fail_name, name) == 0) { if (code) *code = g_fail_code; return 1; }
    return 0;
}

static void keep_image(const unsigned char *p, size_t n) {
    free(g_image);
    g_image = (unsigned char *)malloc(n);
    if (g_image && p) memcpy(g_image, p, n);
    g_image_len = n;
}

const char *standin_log(void) { return g_log; }
void standin_clear(void) { g_len = 0; g_log[0] = 0; }
void standin_fail(const char *name, int code) {
    strncpy(g_fail_name, name ? name : "", sizeof(g_fail_name) - 1);
    g_fail_code = code;
}
size_t standin_image_len(void) { return g_image_len; }
size_t standin_image(unsigned char *out, size_t n) {
    size_t m = n < g_image_len ? n : g_image_len;
    if (g_image) memcpy(out, g_image, m);
    return m;
}
