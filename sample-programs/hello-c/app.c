/* Hello C: a mini-program in C on miniapp.h. It renders a page, keeps a count in
 * storage, pays ¥0.01 on the host's payment sheet, shares a deal to a chat and
 * opens a live room in the Taobao app, showing what the host answered each time. */
#define MINIAPP_IMPLEMENTATION
#include "../../guest-sdk-c/miniapp.h"

/* The last thing the host answered, shown on the page. */
static char last[256] = "";

static long long count(void) {
    miniapp_reply reply;
    long long value = 0;
    if (miniapp_storage_get("{\"key\":\"count\"}", 15, &reply) == MINIAPP_OK)
        miniapp_json_get_int(reply.data, reply.len, "value", &value);
    miniapp_reply_free(&reply);
    return value;
}

static int store_count(long long value) {
    miniapp_json request = {0};
    miniapp_json_raw(&request, "{\"key\":\"count\",\"value\":");
    miniapp_json_int(&request, value);
    miniapp_json_raw(&request, "}");
    int status = request.failed ? MINIAPP_INTERNAL : miniapp_storage_set(request.data, request.len, NULL);
    miniapp_json_free(&request);
    return status;
}

/* Keeps a host call's answer for the page: its `field` on success, else the error's message. */
static void remember(const char *what, int status, miniapp_reply *reply, const char *field) {
    char value[200] = "";
    const char *key = status == MINIAPP_OK ? field : "message";
    if (!reply->data || !miniapp_json_get_string(reply->data, reply->len, key, value, sizeof value))
        snprintf(value, sizeof value, "status %d", status);
    snprintf(last, sizeof last, "%s: %s", what, value);
    miniapp_reply_free(reply);
}

static int render(void) {
    char line[64];
    miniapp_json view = {0};
    miniapp_json_raw(&view, "{\"title\":\"Hello C\",\"body\":[{\"type\":\"heading\",\"text\":\"Hello from C\",\"level\":1}");
    snprintf(line, sizeof line, "count: %lld", count());
    miniapp_json_raw(&view, ",{\"type\":\"text\",\"text\":");
    miniapp_json_string(&view, line);
    miniapp_json_raw(&view, "}");
    if (last[0]) {
        miniapp_json_raw(&view, ",{\"type\":\"text\",\"tone\":\"muted\",\"text\":");
        miniapp_json_string(&view, last);
        miniapp_json_raw(&view, "}");
    }
    miniapp_json_raw(&view,
        ",{\"type\":\"row\",\"children\":["
        "{\"type\":\"button\",\"label\":\"+1\",\"action\":\"count.add\",\"key\":\"a\",\"style\":\"primary\"},"
        "{\"type\":\"button\",\"label\":\"Pay ¥0.01\",\"action\":\"pay\",\"key\":\"p\"},"
        "{\"type\":\"button\",\"label\":\"Share to chat\",\"action\":\"share\",\"key\":\"s\"},"
        "{\"type\":\"button\",\"label\":\"Live room\",\"action\":\"live\",\"key\":\"l\"}]}]}");
    int status = view.failed ? MINIAPP_INTERNAL : miniapp_view_render(view.data, view.len, NULL);
    miniapp_json_free(&view);
    return status;
}

int app_on_launch(const char *context, size_t len) {
    char surface[32] = "";
    if (miniapp_json_get_string(context, len, "surface", surface, sizeof surface))
        printf("Hello C opened from %s\n", surface);
    return render();
}

int app_on_event(const char *event, size_t len) {
    char action[32] = "";
    if (!miniapp_json_get_string(event, len, "action", action, sizeof action)) return render();
    miniapp_reply reply = {0};
    if (strcmp(action, "count.add") == 0) {
        int status = store_count(count() + 1);
        if (status != MINIAPP_OK) return status;
    } else if (strcmp(action, "pay") == 0) {
        /* A new order number each time: the count, then one more. */
        char request[192];
        snprintf(request, sizeof request,
                 "{\"merchant_id\":\"1900000109\",\"out_trade_no\":\"HELLOC%06lld\",\"amount\":1,"
                 "\"currency\":\"CNY\",\"description\":\"Hello C\"}",
                 count());
        int status = miniapp_payment_request(request, strlen(request), &reply);
        remember("payment", status, &reply, "status");
    } else if (strcmp(action, "share") == 0) {
        const char *request = "{\"card\":{\"title\":\"A deal from Hello C\",\"target\":{\"kind\":\"web\","
                              "\"url\":\"https://item.taobao.com/item.htm?id=1042\"}},\"surface\":\"chat\"}";
        int status = miniapp_link_share(request, strlen(request), &reply);
        remember("share", status, &reply, "outcome");
    } else if (strcmp(action, "live") == 0) {
        const char *request = "{\"target\":{\"kind\":\"deep_link\",\"url\":\"taobao://live/7\"}}";
        int status = miniapp_link_open(request, strlen(request), &reply);
        remember("live room", status, &reply, "outcome");
    }
    return render();
}
