/* __NAME__: a page with a counter kept in storage, in C on miniapp.h
 * (the host functions, the ABI's codes and a small JSON helper). */
#define MINIAPP_IMPLEMENTATION
#include "miniapp.h"

static long long count(void) {
    miniapp_reply reply;
    long long value = 0;
    if (miniapp_storage_get("{\"key\":\"count\"}", 15, &reply) == MINIAPP_OK)
        miniapp_json_get_int(reply.data, reply.len, "value", &value);
    miniapp_reply_free(&reply);
    return value;
}

static int set_count(long long value) {
    miniapp_json request = {0};
    miniapp_json_raw(&request, "{\"key\":\"count\",\"value\":");
    miniapp_json_int(&request, value);
    miniapp_json_raw(&request, "}");
    int status = request.failed ? MINIAPP_INTERNAL : miniapp_storage_set(request.data, request.len, NULL);
    miniapp_json_free(&request);
    return status;
}

static int render(void) {
    char line[64];
    snprintf(line, sizeof line, "count: %lld", count());
    miniapp_json view = {0};
    miniapp_json_raw(&view, "{\"title\":\"__NAME__\",\"body\":[{\"type\":\"heading\",\"text\":\"Hello from __NAME__\"}");
    miniapp_json_raw(&view, ",{\"type\":\"text\",\"text\":");
    miniapp_json_string(&view, line);
    miniapp_json_raw(&view, "},{\"type\":\"row\",\"children\":["
                            "{\"type\":\"button\",\"label\":\"+1\",\"action\":\"count.add\",\"key\":\"a\",\"style\":\"primary\"},"
                            "{\"type\":\"button\",\"label\":\"reset\",\"action\":\"count.reset\",\"key\":\"r\"}]}]}");
    int status = view.failed ? MINIAPP_INTERNAL : miniapp_view_render(view.data, view.len, NULL);
    miniapp_json_free(&view);
    return status;
}

int app_on_launch(const char *context, size_t len) {
    (void)context;
    (void)len;
    return render();
}

int app_on_event(const char *event, size_t len) {
    char action[32] = "";
    if (miniapp_json_get_string(event, len, "action", action, sizeof action)) {
        int status = MINIAPP_OK;
        if (strcmp(action, "count.add") == 0) status = set_count(count() + 1);
        if (strcmp(action, "count.reset") == 0) status = miniapp_storage_remove("{\"key\":\"count\"}", 15, NULL);
        if (status != MINIAPP_OK) return status;
    }
    return render();
}
