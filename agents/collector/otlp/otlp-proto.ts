import protobuf from 'protobufjs';

/**
 * The part of OpenTelemetry's OTLP protocol (opentelemetry-proto v1: common, resource, logs, metrics and
 * their collector services) the collector receives, written out here as .proto text for protobufjs.
 * Field numbers are OTLP's; fields we do not read (exemplars, exponential histograms' buckets) are left out
 * and skipped by the decoder as unknown fields.
 */
const OTLP_PROTO = `
syntax = "proto3";
package otlp;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; }
message Resource { repeated KeyValue attributes = 1; }

message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; string schema_url = 3; }
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; string schema_url = 3; }
message LogRecord {
  fixed64 time_unix_nano = 1;
  fixed64 observed_time_unix_nano = 11;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  uint32 dropped_attributes_count = 7;
  fixed32 flags = 8;
  bytes trace_id = 9;
  bytes span_id = 10;
  string event_name = 12;
}

message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
message Metric {
  string name = 1;
  string description = 2;
  string unit = 3;
  oneof data {
    Gauge gauge = 5;
    Sum sum = 7;
    Histogram histogram = 9;
    ExponentialHistogram exponential_histogram = 10;
    Summary summary = 11;
  }
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message ExponentialHistogram { int32 aggregation_temporality = 2; }
message Summary { repeated SummaryDataPoint data_points = 1; }
message NumberDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
  uint32 flags = 8;
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  fixed64 count = 4;
  optional double sum = 5;
  repeated fixed64 bucket_counts = 6;
  repeated double explicit_bounds = 7;
  uint32 flags = 10;
  optional double min = 11;
  optional double max = 12;
}
message SummaryDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  fixed64 count = 4;
  double sum = 5;
  message ValueAtQuantile { double quantile = 1; double value = 2; }
  repeated ValueAtQuantile quantile_values = 6;
  uint32 flags = 8;
}
`;

const root = protobuf.parse(OTLP_PROTO, { keepCase: false }).root;
const LogsRequest = root.lookupType('otlp.ExportLogsServiceRequest');
const MetricsRequest = root.lookupType('otlp.ExportMetricsServiceRequest');

// The shape protobuf's JSON mapping gives (lowerCamelCase, 64-bit integers as strings): the same shape the
// OTLP/JSON encoding arrives in, so one mapper serves both encodings.
const asJsonShape = { longs: String, enums: Number, bytes: String, defaults: false, arrays: false, oneofs: false } as const;

export class OtlpDecodeError extends Error {
  override name = 'OtlpDecodeError';
}

function decode(type: protobuf.Type, body: Buffer): unknown {
  let message: protobuf.Message;
  try {
    message = type.decode(body);
  } catch (err) {
    throw new OtlpDecodeError(`not a valid ${type.name} protobuf message: ${(err as Error).message}`);
  }
  const obj = type.toObject(message, asJsonShape) as Record<string, unknown>;
  return fixBytes(obj);
}

/** protobuf's JSON mapping writes bytes as base64, OTLP/JSON trace and span ids as hex: convert those. */
function fixBytes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fixBytes);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if ((k === 'traceId' || k === 'spanId') && typeof o[k] === 'string') o[k] = Buffer.from(o[k] as string, 'base64').toString('hex');
      else o[k] = fixBytes(o[k]);
    }
  }
  return value;
}

export function decodeLogsRequest(body: Buffer): unknown {
  return decode(LogsRequest, body);
}

export function decodeMetricsRequest(body: Buffer): unknown {
  return decode(MetricsRequest, body);
}
