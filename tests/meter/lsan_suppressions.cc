// cpprestsdk runs a request's last continuations on its own thread pool, which is never
// joined: a test process that exits moments after a reply can leave one pending, and
// LeakSanitizer then reports the task state it holds. In a running process the
// continuation completes and frees it, so this is not a leak of the meter. The same holds
// for the OpenSSL state of a TLS connection such a continuation still owns (libcrypto is
// uninstrumented, so its allocations show no cpprestsdk frame).
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libcpprest.so\n"
         "leak:libcrypto.so\n"
         "leak:pplx::\n"
         "leak:web::http::details\n";
}
