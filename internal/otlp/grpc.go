package otlp

import (
	"context"
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // clients may compress
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/prodex/prodex/internal/ingest"
)

// Resolve checks the API key a request carries (empty when none) and
// returns the receiver of its environment and the key's id.
type Resolve func(ctx context.Context, key string) (rc *Receiver, keyID string, err error)

// ErrUnauthenticated and ErrForbidden are what an Authorize returns for a
// missing or unknown key and for a key not allowed to ingest.
var (
	ErrUnauthenticated = errors.New("unknown API key")
	ErrForbidden       = errors.New("API key may not send events")
)

// GRPCOptions bound what one OTLP/gRPC request may take.
type GRPCOptions struct {
	// MaxRecvMsg caps a request message's size, after decompression
	// (default 64 MiB).
	MaxRecvMsg int
	// RecvTimeout is the longest a request message may take to arrive
	// once its stream opened: a stream still waiting for it then is
	// cancelled (default 60 s).
	RecvTimeout time.Duration
	// MaxStreams caps the streams of one connection (default 100).
	MaxStreams uint32
}

// Default OTLP/gRPC bounds.
const (
	DefaultGRPCRecvTimeout = 60 * time.Second
	DefaultGRPCMaxStreams  = 100
)

// recvTimerCtx holds the timer that cancels a stream whose message has not
// arrived in time.
type recvTimerCtx struct{}

// NewGRPCServer serves the OTLP trace and log services over gRPC, within
// o's bounds. The key is read from the metadata named by keyHeaders (lower
// case), or from "authorization: Bearer KEY", and resolve says which
// receiver takes the request. A request message is taken as its protobuf
// encoding and decoded by the receiver as an OTLP/HTTP body is: once it has
// arrived, so that a stream whose message trickles in holds no slot of
// the requests in flight (and is cancelled after o.RecvTimeout), and after
// it is let in and its events counted, so that a request of too many is
// refused before it is decoded.
func NewGRPCServer(resolve Resolve, keyHeaders []string, o GRPCOptions) *grpc.Server {
	if o.MaxRecvMsg <= 0 {
		o.MaxRecvMsg = 64 << 20
	}
	if o.RecvTimeout <= 0 {
		o.RecvTimeout = DefaultGRPCRecvTimeout
	}
	if o.MaxStreams == 0 {
		o.MaxStreams = DefaultGRPCMaxStreams
	}
	// The receive timer starts as a stream opens and is stopped once its
	// message is in.
	timed := func(ctx context.Context, _ *tap.Info) (context.Context, error) {
		ctx, cancel := context.WithCancel(ctx)
		return context.WithValue(ctx, recvTimerCtx{}, time.AfterFunc(o.RecvTimeout, cancel)), nil
	}
	g := &grpcOTLP{resolve: resolve, keyHeaders: keyHeaders, recvTimeout: o.RecvTimeout}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(o.MaxRecvMsg), grpc.MaxConcurrentStreams(o.MaxStreams), grpc.InTapHandle(timed),
		grpc.ForceServerCodecV2(rawCodec{encoding.GetCodecV2("proto")}))
	for _, s := range []struct{ service, proto, signal string }{
		{"opentelemetry.proto.collector.trace.v1.TraceService", "opentelemetry/proto/collector/trace/v1/trace_service.proto", signalTraces},
		{"opentelemetry.proto.collector.logs.v1.LogsService", "opentelemetry/proto/collector/logs/v1/logs_service.proto", signalLogs},
	} {
		srv.RegisterService(&grpc.ServiceDesc{ServiceName: s.service, HandlerType: (*any)(nil), Metadata: s.proto,
			Methods: []grpc.MethodDesc{{MethodName: "Export", Handler: g.export(s.signal)}}}, g)
	}
	return srv
}

// grpcOTLP serves the Export methods.
type grpcOTLP struct {
	resolve     Resolve
	keyHeaders  []string
	recvTimeout time.Duration
}

// export is the handler of a signal's Export method.
func (g *grpcOTLP) export(signal string) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var in rawMessage
		if err := dec(&in); err != nil {
			return nil, err
		}
		if t, ok := ctx.Value(recvTimerCtx{}).(*time.Timer); ok && !t.Stop() {
			return nil, status.Errorf(codes.DeadlineExceeded, "the request message did not arrive within %s", g.recvTimeout)
		}
		rc, id, err := g.resolve(ctx, g.key(ctx))
		switch {
		case errors.Is(err, ErrUnauthenticated):
			return nil, status.Error(codes.Unauthenticated, "unknown API key: send a valid key in the x-honeycomb-team metadata")
		case err != nil:
			return nil, status.Error(codes.PermissionDenied, err.Error())
		}
		out, err := rc.exportProto(ingest.WithKey(ctx, id), signal, in.b)
		if err != nil {
			return nil, grpcError(err)
		}
		return &rawMessage{out}, nil
	}
}

// key is the API key a request's metadata carries.
func (g *grpcOTLP) key(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, h := range g.keyHeaders {
		if v := md.Get(h); len(v) > 0 && v[0] != "" {
			return v[0]
		}
	}
	if v := md.Get("authorization"); len(v) > 0 && len(v[0]) > 7 && v[0][:7] == "Bearer " {
		return v[0][7:]
	}
	return ""
}

// rawMessage is a gRPC message as its protobuf encoding.
type rawMessage struct{ b []byte }

// rawCodec passes rawMessages through as they are and leaves any other
// message to the proto codec.
type rawCodec struct{ proto encoding.CodecV2 }

func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*rawMessage); ok {
		return mem.BufferSlice{mem.SliceBuffer(m.b)}, nil
	}
	return c.proto.Marshal(v)
}

func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if m, ok := v.(*rawMessage); ok {
		m.b = data.Materialize()
		return nil
	}
	return c.proto.Unmarshal(data, v)
}

func (rawCodec) Name() string { return "proto" }

// grpcError turns a refused export into a status; a retryable one carries
// RetryInfo, which OTLP exporters honour.
func grpcError(err error) error {
	if err == nil {
		return nil
	}
	var ee *exportError
	if !errors.As(err, &ee) {
		return status.Error(codes.Internal, err.Error())
	}
	st := status.New(ee.grpc, ee.msg)
	if ee.retryAfter > 0 {
		if d, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(ee.retryAfter) * time.Second)}); derr == nil {
			st = d
		}
	}
	return st.Err()
}
