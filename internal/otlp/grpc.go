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

// Authorize checks the API key a request carries (empty when none).
type Authorize func(ctx context.Context, key string) error

// ErrUnauthenticated and ErrForbidden are what an Authorize returns for a
// missing or unknown key and for a key not allowed to ingest.
var (
	ErrUnauthenticated = errors.New("unknown API key")
	ErrForbidden       = errors.New("API key may not send events")
)

// NewGRPCServer serves the OTLP trace and log services over gRPC. The key
// is read from the metadata named by keyHeaders (lower case), or from
// "authorization: Bearer KEY".
func NewGRPCServer(rc *Receiver, authorize Authorize, keyHeaders []string) *grpc.Server {
	maxMsg := int(rc.Limits.MaxBodyBytes)
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
		switch err := authorize(ctx, key); {
		case errors.Is(err, ErrUnauthenticated):
			return nil, status.Error(codes.Unauthenticated, "unknown API key: send a valid key in the x-honeycomb-team metadata")
		case err != nil:
			return nil, status.Error(codes.PermissionDenied, err.Error())
		}
		return handler(ctx, req)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(maxMsg), grpc.UnaryInterceptor(auth))
	ptraceotlp.RegisterGRPCServer(srv, &traceService{rc: rc})
	plogotlp.RegisterGRPCServer(srv, &logService{rc: rc})
	return srv
}

type traceService struct {
	ptraceotlp.UnimplementedGRPCServer
	rc *Receiver
}

func (s *traceService) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	resp, err := s.rc.ExportTraces(ctx, req)
	return resp, grpcError(err)
}

type logService struct {
	plogotlp.UnimplementedGRPCServer
	rc *Receiver
}

func (s *logService) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	resp, err := s.rc.ExportLogs(ctx, req)
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
