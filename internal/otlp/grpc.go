package otlp

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // clients may compress
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Resolve checks the API key a request carries (empty when none) and
// returns the receiver of its environment.
type Resolve func(ctx context.Context, key string) (*Receiver, error)

type receiverCtx struct{}

// ErrUnauthenticated and ErrForbidden are what an Authorize returns for a
// missing or unknown key and for a key not allowed to ingest.
var (
	ErrUnauthenticated = errors.New("unknown API key")
	ErrForbidden       = errors.New("API key may not send events")
)

// NewGRPCServer serves the OTLP trace and log services over gRPC, with
// messages up to maxMsg bytes. The key is read from the metadata named by
// keyHeaders (lower case), or from "authorization: Bearer KEY", and
// resolve says which receiver takes the request.
func NewGRPCServer(resolve Resolve, keyHeaders []string, maxMsg int) *grpc.Server {
	if maxMsg <= 0 {
		maxMsg = 64 << 20
	}
	auth := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		key := ""
		for _, h := range keyHeaders {
			if v := md.Get(h); len(v) > 0 && v[0] != "" {
				key = v[0]
				break
			}
		}
		if key == "" {
			if v := md.Get("authorization"); len(v) > 0 && len(v[0]) > 7 && v[0][:7] == "Bearer " {
				key = v[0][7:]
			}
		}
		rc, err := resolve(ctx, key)
		switch {
		case errors.Is(err, ErrUnauthenticated):
			return nil, status.Error(codes.Unauthenticated, "unknown API key: send a valid key in the x-honeycomb-team metadata")
		case err != nil:
			return nil, status.Error(codes.PermissionDenied, err.Error())
		}
		return handler(context.WithValue(ctx, receiverCtx{}, rc), req)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(maxMsg), grpc.UnaryInterceptor(auth))
	ptraceotlp.RegisterGRPCServer(srv, &traceService{})
	plogotlp.RegisterGRPCServer(srv, &logService{})
	return srv
}

type traceService struct {
	ptraceotlp.UnimplementedGRPCServer
}

func (s *traceService) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	resp, err := ctx.Value(receiverCtx{}).(*Receiver).ExportTraces(ctx, req)
	return resp, grpcError(err)
}

type logService struct {
	plogotlp.UnimplementedGRPCServer
}

func (s *logService) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	resp, err := ctx.Value(receiverCtx{}).(*Receiver).ExportLogs(ctx, req)
	return resp, grpcError(err)
}

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
