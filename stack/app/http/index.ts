// Public surface of stack/app/http: HTTP/1.1 codec, server and client over ByteStreams.
export { HttpHeaders, type HttpHeader } from "./headers.ts";
export {
  createRequestParser,
  createResponseParser,
  statusForParseError,
  isToken,
  DEFAULT_PARSER_LIMITS,
  type HttpParser,
  type HttpParseError,
  type HttpParserLimits,
  type HttpRequestHead,
  type HttpResponseHead,
  type HttpVersion,
  type BodyKind,
  type RequestParserHandlers,
  type ResponseParserHandlers,
} from "./parser.ts";
export {
  emitRequestHead,
  emitResponseHead,
  emitChunk,
  emitLastChunk,
  reasonPhrase,
  assertHeader,
  HttpUsageError,
  type RequestHeadRepr,
  type ResponseHeadRepr,
} from "./emit.ts";
export { formatHttpDate, parseHttpDate } from "./date.ts";
export { IncomingBody, HttpStreamError, type BodyErrorCode } from "./body.ts";
export {
  createHttpServer,
  type HttpServer,
  type HttpServerDeps,
  type HttpServerOptions,
  type HttpServerRequest,
  type HttpServerResponse,
  type HttpHandler,
  type HttpServerStats,
} from "./server.ts";
export {
  createHttpClient,
  type HttpClient,
  type HttpClientDeps,
  type HttpClientOptions,
  type HttpRequestOptions,
  type HttpClientResponse,
  type HttpRequestBody,
  type HttpClientStats,
  type HttpHost,
} from "./client.ts";
export { utf8Encode, utf8Decode } from "./utf8.ts";
