// netscope's libpcap binding (Node-API through node-addon-api).
//
// Contract (see docs/capture.md):
// - C owns every buffer it writes into. Packets are drained into a batch buffer owned by the handle; JavaScript
//   receives a *copy* of each batch (one Buffer, one call per batch), so nothing JavaScript frees is ever written.
// - A batch is a sequence of classic pcap records in little-endian order: ts_sec u32, ts_frac u32 (always
//   nanoseconds), caplen u32, original length u32, then caplen bytes. It can be written after a nanosecond pcap
//   file header as it is.
// - Errors are JavaScript exceptions (open, inject, setFilter, compile) or an onError(message) call (a failure of
//   the capture socket: interface gone or down). Nothing aborts the process.
// - close() is idempotent and safe from inside onBatch/onError: JavaScript is never called from inside
//   pcap_dispatch, and the libuv poll handle is released in its close callback.
#include <napi.h>
#include <pcap/pcap.h>
#include <uv.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr size_t kRecordHeader = 16;
constexpr size_t kMinBatchBytes = 8u << 20;
// Packets drained per wake-up before the event loop gets a turn (the poll fires again while data is ready).
constexpr uint32_t kMaxPacketsPerWakeup = 65536;

inline void PutU32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

// The kind of an activation failure, for the caller's message and exit status.
const char* ActivateErrorKind(int status) {
  switch (status) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
      return "iface";
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      return "permission";
    case PCAP_ERROR_IFACE_NOT_UP:
      return "down";
    default:
      return "other";
  }
}

Napi::Error KindError(Napi::Env env, const std::string& message, const char* kind) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("kind", Napi::String::New(env, kind));
  return e;
}

class PcapHandle : public Napi::ObjectWrap<PcapHandle> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "PcapHandle",
                       {
                           InstanceMethod("open", &PcapHandle::Open),
                           InstanceMethod("close", &PcapHandle::Close),
                           InstanceMethod("stats", &PcapHandle::Stats),
                           InstanceMethod("inject", &PcapHandle::Inject),
                           InstanceMethod("setFilter", &PcapHandle::SetFilter),
                           InstanceMethod("drain", &PcapHandle::DrainNow),
                       });
  }

  explicit PcapHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PcapHandle>(info) {}

  ~PcapHandle() override {
    // Only reachable when never opened or fully closed (an open handle holds a reference to itself).
    if (pcap_ != nullptr) pcap_close(pcap_);
  }

 private:
  pcap_t* pcap_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference on_batch_;
  Napi::FunctionReference on_error_;
  std::vector<uint8_t> batch_;
  size_t used_ = 0;
  uint32_t count_ = 0;
  uint32_t snaplen_ = 0;
  bool nano_ = true;
  bool closed_ = false;
  bool failed_ = false;
  bool referenced_ = false;

  // open({device, snaplen, promisc, immediate, bufferSize, timeoutMs, nano, filter, onBatch, onError})
  Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (pcap_ != nullptr || closed_) {
      KindError(env, "capture handle was already opened", "other").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (info.Length() < 1 || !info[0].IsObject()) {
      Napi::TypeError::New(env, "open(options) expects an object").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object o = info[0].As<Napi::Object>();
    if (!o.Get("device").IsString()) {
      Napi::TypeError::New(env, "options.device must be a string").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::string device = o.Get("device").As<Napi::String>().Utf8Value();
    auto num = [&](const char* key, double dflt) {
      Napi::Value v = o.Get(key);
      return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : dflt;
    };
    auto flag = [&](const char* key, bool dflt) {
      Napi::Value v = o.Get(key);
      return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : dflt;
    };
    int snaplen = static_cast<int>(num("snaplen", 262144));
    if (snaplen <= 0 || snaplen > 262144) snaplen = 262144;
    bool promisc = flag("promisc", true);
    bool immediate = flag("immediate", false);
    int buffer_size = static_cast<int>(num("bufferSize", 0));
    int timeout_ms = static_cast<int>(num("timeoutMs", 20));
    bool want_nano = flag("nano", true);
    std::string filter = o.Get("filter").IsString() ? o.Get("filter").As<Napi::String>().Utf8Value() : "";
    bool capture = o.Get("onBatch").IsFunction();

    char errbuf[PCAP_ERRBUF_SIZE] = {0};
    pcap_t* p = pcap_create(device.c_str(), errbuf);
    if (p == nullptr) {
      KindError(env, errbuf, "other").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    pcap_set_snaplen(p, snaplen);
    pcap_set_promisc(p, promisc ? 1 : 0);
    pcap_set_timeout(p, timeout_ms);
    if (immediate) pcap_set_immediate_mode(p, 1);
    if (buffer_size > 0) pcap_set_buffer_size(p, buffer_size);
    std::string warning;
    bool nano = false;
    if (want_nano) {
      if (pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) == 0) nano = true;
      else warning = "nanosecond timestamps not supported by this device; using microseconds";
    }
    int status = pcap_activate(p);
    if (status < 0) {
      std::string message = pcap_geterr(p);
      if (message.empty()) message = pcap_statustostr(status);
      const char* kind = ActivateErrorKind(status);
      pcap_close(p);
      KindError(env, message, kind).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (status > 0) {
      std::string w = pcap_geterr(p);
      if (w.empty()) w = pcap_statustostr(status);
      warning = warning.empty() ? w : warning + "; " + w;
    }
    if (nano && pcap_get_tstamp_precision(p) != PCAP_TSTAMP_PRECISION_NANO) nano = false;
    if (!filter.empty()) {
      bpf_program prog;
      if (pcap_compile(p, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
        std::string message = pcap_geterr(p);
        pcap_close(p);
        KindError(env, message, "filter").ThrowAsJavaScriptException();
        return env.Undefined();
      }
      int rc = pcap_setfilter(p, &prog);
      pcap_freecode(&prog);
      if (rc != 0) {
        std::string message = pcap_geterr(p);
        pcap_close(p);
        KindError(env, message, "filter").ThrowAsJavaScriptException();
        return env.Undefined();
      }
    }
    pcap_ = p;
    snaplen_ = static_cast<uint32_t>(pcap_snapshot(p));
    nano_ = nano;

    if (capture) {
      if (pcap_setnonblock(p, 1, errbuf) != 0) {
        Fail(env, errbuf);
        return env.Undefined();
      }
      int fd = pcap_get_selectable_fd(p);
      if (fd < 0) {
        Fail(env, "this device has no selectable file descriptor");
        return env.Undefined();
      }
      on_batch_ = Napi::Persistent(o.Get("onBatch").As<Napi::Function>());
      if (o.Get("onError").IsFunction()) on_error_ = Napi::Persistent(o.Get("onError").As<Napi::Function>());
      size_t cap = kMinBatchBytes;
      if (cap < 4 * (snaplen_ + kRecordHeader)) cap = 4 * (snaplen_ + kRecordHeader);
      batch_.resize(cap);
      uv_loop_t* loop = nullptr;
      napi_get_uv_event_loop(env, &loop);
      poll_ = new uv_poll_t;
      if (uv_poll_init(loop, poll_, fd) != 0) {
        delete poll_;
        poll_ = nullptr;
        Fail(env, "cannot watch the capture socket");
        return env.Undefined();
      }
      poll_->data = this;
      uv_poll_start(poll_, UV_READABLE, OnPoll);
      // Keep this object (and so the poll's data pointer) alive until the poll handle is closed.
      Ref();
      referenced_ = true;
    }

    Napi::Object r = Napi::Object::New(env);
    r.Set("linktype", Napi::Number::New(env, pcap_datalink(p)));
    r.Set("snaplen", Napi::Number::New(env, snaplen_));
    r.Set("nano", Napi::Boolean::New(env, nano_));
    if (!warning.empty()) r.Set("warning", Napi::String::New(env, warning));
    return r;
  }

  void Fail(Napi::Env env, const std::string& message) {
    pcap_close(pcap_);
    pcap_ = nullptr;
    KindError(env, message, "other").ThrowAsJavaScriptException();
  }

  static void OnPacket(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
    auto* self = reinterpret_cast<PcapHandle*>(user);
    uint8_t* out = self->batch_.data() + self->used_;
    uint32_t frac = static_cast<uint32_t>(h->ts.tv_usec);
    if (!self->nano_) frac *= 1000;
    PutU32(out, static_cast<uint32_t>(h->ts.tv_sec));
    PutU32(out + 4, frac);
    PutU32(out + 8, h->caplen);
    PutU32(out + 12, h->len);
    std::memcpy(out + kRecordHeader, bytes, h->caplen);
    self->used_ += kRecordHeader + h->caplen;
    self->count_++;
  }

  static void OnPoll(uv_poll_t* poll, int status, int /*events*/) {
    auto* self = static_cast<PcapHandle*>(poll->data);
    if (self == nullptr || self->closed_) return;
    self->Drain(status);
  }

  // Hands the batch to JavaScript (copy). Returns false when the handle was closed by the callback.
  bool Flush(Napi::Env env) {
    if (count_ == 0) return !closed_;
    Napi::HandleScope scope(env);
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::Copy(env, batch_.data(), used_);
    uint32_t n = count_;
    used_ = 0;
    count_ = 0;
    on_batch_.MakeCallback(Value(), {buf, Napi::Number::New(env, n)});
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
    return !closed_;
  }

  // drain(): delivers what the ring holds now (synchronously, through onBatch) — so a caller can tell that
  // everything captured before this moment has been handed over.
  Napi::Value DrainNow(const Napi::CallbackInfo& info) {
    if (!closed_ && !failed_ && pcap_ != nullptr && poll_ != nullptr) Drain(0);
    return info.Env().Undefined();
  }

  // The error pending on the capture socket (ENETDOWN when the interface went down or was deleted), or 0.
  // libuv turns EPOLLERR into a readable event and libpcap in non-blocking mode does not look: ask the socket.
  int SocketError() {
    int fd = pcap_get_selectable_fd(pcap_);
    int err = 0;
    socklen_t len = sizeof err;
    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return 0;
    return err;
  }

  void Drain(int poll_status) {
    Napi::Env env = Env();
    uint32_t drained = 0;
    int rc = 0;
    for (;;) {
      size_t room = batch_.size() - used_;
      size_t per = snaplen_ + kRecordHeader;
      if (room < per) {
        if (!Flush(env)) return;
        continue;
      }
      int cnt = static_cast<int>(room / per);
      rc = pcap_dispatch(pcap_, cnt, OnPacket, reinterpret_cast<u_char*>(this));
      if (rc <= 0) break;
      drained += static_cast<uint32_t>(rc);
      if (drained >= kMaxPacketsPerWakeup) break;
    }
    if (!Flush(env)) return;
    int sock_err = (rc == 0 && drained == 0 && poll_status == 0) ? SocketError() : 0;
    if (rc < 0 || poll_status < 0 || sock_err != 0) {
      std::string message;
      if (rc < 0) message = pcap_geterr(pcap_);
      else if (sock_err == ENETDOWN) message = "The interface went down or was deleted";
      else if (sock_err != 0) message = std::string("capture socket failed: ") + std::strerror(sock_err);
      else message = std::string("capture socket failed: ") + uv_strerror(poll_status);
      if (message.empty()) message = "capture socket failed";
      StopPolling();
      failed_ = true;
      if (!on_error_.IsEmpty()) {
        Napi::HandleScope scope(env);
        on_error_.MakeCallback(Value(), {Napi::String::New(env, message)});
        if (env.IsExceptionPending()) {
          Napi::Error e = env.GetAndClearPendingException();
          napi_fatal_exception(env, e.Value());
        }
      }
    }
  }

  void StopPolling() {
    if (poll_ == nullptr) return;
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), OnPollClosed);
    poll_ = nullptr;
  }

  static void OnPollClosed(uv_handle_t* h) {
    auto* self = static_cast<PcapHandle*>(h->data);
    delete reinterpret_cast<uv_poll_t*>(h);
    // The poll no longer points at this object: JavaScript may now collect it.
    if (self != nullptr && self->referenced_) {
      self->referenced_ = false;
      self->Unref();
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (closed_) return info.Env().Undefined();
    closed_ = true;
    if (poll_ != nullptr) {
      StopPolling();
    } else if (referenced_) {
      referenced_ = false;
      Unref();
    }
    if (pcap_ != nullptr) {
      pcap_close(pcap_);
      pcap_ = nullptr;
    }
    on_batch_.Reset();
    on_error_.Reset();
    std::vector<uint8_t>().swap(batch_);
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (pcap_ == nullptr) {
      KindError(env, "capture handle is not open", "other").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    pcap_stat st;
    std::memset(&st, 0, sizeof st);
    if (pcap_stats(pcap_, &st) != 0) {
      KindError(env, pcap_geterr(pcap_), "other").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("received", Napi::Number::New(env, st.ps_recv));
    r.Set("dropped", Napi::Number::New(env, st.ps_drop));
    r.Set("ifDropped", Napi::Number::New(env, st.ps_ifdrop));
    return r;
  }

  // inject(buffer, length?) -> bytes written; throws libpcap's message.
  Napi::Value Inject(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (pcap_ == nullptr) {
      KindError(env, "capture handle is not open", "other").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      Napi::TypeError::New(env, "inject(buffer[, length]) expects a Buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
    size_t len = b.Length();
    if (info.Length() > 1 && info[1].IsNumber()) {
      double want = info[1].As<Napi::Number>().DoubleValue();
      if (want >= 0 && want < static_cast<double>(len)) len = static_cast<size_t>(want);
    }
    int n = pcap_inject(pcap_, b.Data(), len);
    if (n < 0) {
      KindError(env, pcap_geterr(pcap_), "other").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, n);
  }

  Napi::Value SetFilter(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (pcap_ == nullptr || info.Length() < 1 || !info[0].IsString()) {
      KindError(env, "setFilter(expression) needs an open handle and a string", "other").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::string expr = info[0].As<Napi::String>().Utf8Value();
    bpf_program prog;
    if (pcap_compile(pcap_, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      KindError(env, pcap_geterr(pcap_), "filter").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int rc = pcap_setfilter(pcap_, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
      KindError(env, pcap_geterr(pcap_), "filter").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return env.Undefined();
  }
};

// compile(linktype, snaplen, expression, optimize) -> Buffer of struct bpf_insn (8 bytes each, host order):
// code u16, jt u8, jf u8, k u32. Compiled on a dead handle of the link type, as tcpdump -r does.
Napi::Value Compile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsString()) {
    Napi::TypeError::New(env, "compile(linktype, snaplen, expression[, optimize])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int linktype = info[0].As<Napi::Number>().Int32Value();
  int snaplen = info[1].As<Napi::Number>().Int32Value();
  std::string expr = info[2].As<Napi::String>().Utf8Value();
  bool optimize = info.Length() < 4 || !info[3].IsBoolean() || info[3].As<Napi::Boolean>().Value();
  pcap_t* p = pcap_open_dead(linktype, snaplen > 0 ? snaplen : 262144);
  if (p == nullptr) {
    KindError(env, "libpcap could not open a dead handle", "other").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  bpf_program prog;
  if (pcap_compile(p, &prog, expr.c_str(), optimize ? 1 : 0, PCAP_NETMASK_UNKNOWN) != 0) {
    std::string message = pcap_geterr(p);
    pcap_close(p);
    KindError(env, message, "filter").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, prog.bf_len * 8u);
  for (u_int i = 0; i < prog.bf_len; i++) {
    const bpf_insn& in = prog.bf_insns[i];
    uint8_t* o = out.Data() + i * 8;
    o[0] = static_cast<uint8_t>(in.code);
    o[1] = static_cast<uint8_t>(in.code >> 8);
    o[2] = in.jt;
    o[3] = in.jf;
    PutU32(o + 4, in.k);
  }
  pcap_freecode(&prog);
  pcap_close(p);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("PcapHandle", PcapHandle::Init(env));
  exports.Set("compile", Napi::Function::New(env, Compile));
  exports.Set("libVersion", Napi::String::New(env, pcap_lib_version()));
  return exports;
}

}  // namespace

NODE_API_MODULE(netscope_pcap, Init)
