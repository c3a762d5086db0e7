// cpprestsdk runs a request's last continuations on its own thread pool, which is never
// joined: a test process that exits moments after a watch was cancelled or ended can leave
// one pending, and LeakSanitizer then reports the request state it holds. In a running
// process the continuation completes and frees it, so this is not a leak of the library.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libcpprest.so\n"
         "leak:pplx::\n"
         "leak:web::http::details\n";
}
