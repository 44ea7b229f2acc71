//! The stack-trace corpus: traces as real runtimes print them, each of
//! which `error.message` must not carry (`envelope.error.message.stack_trace`),
//! and harmless messages that must pass.

use theory_contract::{Expect, Rule, canon, check_envelope, stack_trace};

/// (runtime, a trace as that runtime prints it).
const TRACES: &[(&str, &str)] = &[
    (
        "Python",
        "Traceback (most recent call last):\n  File \"/app/main.py\", line 12, in <module>\n    main()\n  File \"/app/main.py\", line 8, in main\n    1 / 0\nZeroDivisionError: division by zero",
    ),
    (
        "Python",
        "inputs failed: File \"/srv/processor/handlers.py\", line 41, in handle",
    ),
    (
        "Go",
        "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\nmain.main()\n\t/home/user/app/main.go:8 +0x1d\nexit status 2",
    ),
    (
        "Go",
        "internal: main.handler(...)\n\t/src/server/handler.go:57 +0x2a5",
    ),
    (
        "Java",
        "Exception in thread \"main\" java.lang.IllegalStateException: boom\n\tat com.example.App.run(App.java:42)\n\tat com.example.App.main(App.java:12)",
    ),
    (
        "Java",
        "java.io.IOException: closed\n    at java.base/java.io.FileInputStream.readBytes(Native Method)\nCaused by: java.lang.NullPointerException\n    ... 3 more",
    ),
    (
        ".NET",
        "System.InvalidOperationException: boom\n   at MyApp.Program.Run(String input) in /src/MyApp/Program.cs:line 27\n   at MyApp.Program.Main(String[] args) in /src/MyApp/Program.cs:line 12",
    ),
    (
        ".NET",
        "Unhandled exception. System.NullReferenceException: Object reference not set\n   at Processor.Handler.Execute(Request r)\n--- End of stack trace from previous location ---",
    ),
    (
        "Node",
        "TypeError: Cannot read properties of undefined (reading 'x')\n    at handler (/app/src/handler.js:14:21)\n    at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)",
    ),
    (
        "Node",
        "Error: boom\n    at /app/index.mjs:3:9\n    at async Promise.all (index 0)",
    ),
    (
        "Ruby",
        "app.rb:3:in `divide': divided by 0 (ZeroDivisionError)\n\tfrom app.rb:7:in `<main>'",
    ),
    (
        "Ruby",
        "/usr/lib/ruby/3.1.0/json/common.rb:216:in 'parse': unexpected token",
    ),
    (
        "PHP",
        "PHP Fatal error:  Uncaught Exception: boom in /var/www/index.php:3\nStack trace:\n#0 /var/www/index.php(7): divide(1, 0)\n#1 {main}\n  thrown in /var/www/index.php on line 3",
    ),
    (
        "PHP",
        "Uncaught TypeError: bad input Stack trace:#0 /var/www/run.php(12): run()",
    ),
    (
        "Rust",
        "thread 'main' panicked at src/main.rs:4:5:\nboom\nstack backtrace:\n   0: rust_begin_unwind\n   1: core::panicking::panic_fmt\n             at /rustc/library/core/src/panicking.rs:72:14",
    ),
    (
        "Rust",
        "thread 'tokio-runtime-worker' panicked at 'called `Option::unwrap()` on a `None` value', src/work.rs:88:41",
    ),
    (
        "Kotlin",
        "kotlinx.serialization.json.internal.JsonDecodingException: Unexpected JSON token\n\tat kotlinx.serialization.json.internal.JsonExceptionsKt.JsonDecodingException(JsonExceptions.kt:24)\n\tat com.acme.hello.RunKt$run$2.invokeSuspend(Run.kt:57)",
    ),
    (
        "Scala",
        "java.lang.IllegalArgumentException: bad body\n\tat com.acme.hello.Run$.parse(Run.scala:42)\n\tat com.acme.hello.Server$$anonfun$routes$1.applyOrElse(Server.scala:17)",
    ),
    (
        "Perl",
        "malformed JSON string, neither array, object, number, string or atom, at character offset 0 (before \"hello\") at /app/lib/Hello/Run.pm line 42.\n\tHello::Run::decode(\"hello\") called at /app/script/hello.pl line 17",
    ),
    ("Perl", "Illegal division by zero at /app/run.pl line 12."),
    (
        "Elixir",
        "** (Jason.DecodeError) unexpected byte at position 0: 0x68 (\"h\")\n    (jason 1.4.1) lib/jason.ex:92: Jason.decode!/2\n    (hello 0.1.0) lib/hello/router.ex:31: Hello.Router.do_match/4",
    ),
    (
        "Elixir",
        "internal: (hello 0.1.0) lib/hello/router.ex:31: Hello.Router.do_match/4",
    ),
    (
        "Erlang",
        "{badarg,[{erlang,binary_to_term,[<<\"hello\">>],[]},{hello_run,decode,1,[{file,\"src/hello_run.erl\"},{line,42}]}]}",
    ),
    (
        "Erlang",
        "** exception error: an error occurred when evaluating an arithmetic expression\n     in operator  '/'/2",
    ),
    (
        "Haskell",
        "Error in $: Failed reading: not a valid json value\nCallStack (from HasCallStack):\n  error, called at src/Hello/Run.hs:42:15 in hello-0.1.0-inplace:Hello.Run\n  decodeOrDie, called at app/Main.hs:17:9 in main:Main",
    ),
    (
        "Swift",
        "Fatal error: The data couldn't be read because it isn't in the correct format.: file Hello/Run.swift, line 42\n0  libswiftCore.so  0x00007f3b1c2e1a10 $ss17_assertionFailure_4file4line5flagss5NeverOs12StaticStringV_SSAHSus6UInt32VtF + 400",
    ),
    (
        "Swift",
        "Hello/main.swift:12: Fatal error: Unexpectedly found nil while unwrapping an Optional value",
    ),
    (
        "Dart",
        "FormatException: Unexpected character (at character 1)\nhello\n^\n#0      _ChunkedJsonParser.fail (dart:convert-patch/convert_patch.dart:1383:5)\n#1      RunHandler.handle (package:hello/run.dart:42:17)",
    ),
    (
        "C/C++",
        "AddressSanitizer: heap-buffer-overflow on address 0x602000000014\n    #0 0x4c2d45 in decode /app/src/decode.c:42:10\n    #1 0x4c2e01 in main /app/src/main.c:7:3",
    ),
    (
        "C/C++",
        "#0  0x00007ffff7a42428 in __GI_raise (sig=sig@entry=6) at ../sysdeps/unix/sysv/linux/raise.c:54",
    ),
    // Traces squashed onto one line, as a processor that joins a
    // message's lines sends them.
    (
        "Java",
        "com.fasterxml.jackson.core.JsonParseException: Unrecognized token 'hello' at com.fasterxml.jackson.core.JsonParser._constructError(JsonParser.java:2391) at com.acme.hello.RunHandler.handle(RunHandler.java:57)",
    ),
    (
        "Node",
        "SyntaxError: Unexpected token h in JSON at position 0 at JSON.parse (<anonymous>) at parseBody (/app/src/run.js:42:17) at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)",
    ),
    (
        "Go",
        "panic: invalid character 'h' looking for beginning of value goroutine 7 [running]: main.handle(0xc000112000) /app/main.go:57 +0x1d",
    ),
    (
        "Ruby",
        "JSON::ParserError: unexpected token at 'hello' /app/lib/hello/run.rb:42:in `parse' /app/config.ru:7:in `block in <main>'",
    ),
    (
        "Python",
        "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0) Traceback (most recent call last): File \"/app/run.py\", line 42, in handle",
    ),
    // Node frames of a constructor and of Node's own modules.
    (
        "Node",
        "Error: bad input\n    at new Request (/app/src/request.js:12:11)",
    ),
    (
        "Node",
        "Error: write EPIPE\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
    ),
];

/// Messages a processor may well send: paths, line numbers in prose,
/// times, the word `at`, code-like names.
const HARMLESS: &[&str] = &[
    "inputs.path: /data/in.txt does not exist",
    "line 3: expected a number",
    "the value at line 12, column 4 is not valid JSON",
    "value must be at least 1.5 (inclusive)",
    "field 'at' must be at most 10 (got 12)",
    "invalid time 10:30:45",
    "could not parse config.go: unexpected end of input",
    "file report.rb:12 not found",
    "Caused by: invalid input",
    "see docs/errors.md#inputs for the accepted formats",
    "inputs.text: 2 errors: empty at offset 0; too long at offset 4097",
    "expected one of: a::b, c::d",
    "unsupported module main.py (use a .txt file)",
    "a File named \"x\" is not allowed",
    "timeout after 30s at stage 2 of 3",
    "request rejected: see /srv/app/config.py, line 12 of the deployment guide",
    "look up the lines at config.yaml line 3",
    "** (optional) inputs.text is empty",
    "aspect ratio must be 16:9 (at 4:3:2 it is not)",
    "item #2 in the list is empty",
    "script.pl is not a supported input",
    "called at most 3 times, see main.hs",
    "the value at index 0x1f is out of range",
];

fn error_envelope(message: &str) -> canon::Json {
    let doc = serde_json::json!({
        "status": "error",
        "execution_id": "e",
        "error": {"code": "ERR_INPUTS", "message": message},
        "meta": {"env_fingerprint": "runtime:docker"},
    });
    canon::parse(doc.to_string().as_bytes()).expect("JSON")
}

fn flagged(message: &str) -> bool {
    check_envelope(&error_envelope(message), &Expect::default())
        .iter()
        .any(|v| v.rule == Rule::ErrorMessageStackTrace)
}

#[test]
fn every_runtimes_trace_is_a_violation_naming_that_runtime() {
    for (runtime, trace) in TRACES {
        let found = stack_trace::find(trace)
            .unwrap_or_else(|| panic!("{runtime} trace not recognised:\n{trace}"));
        assert_eq!(found.runtime, *runtime, "{trace}");
        assert!(flagged(trace), "{runtime}: not a violation:\n{trace}");
    }
}

#[test]
fn every_runtime_of_the_table_has_a_trace_in_the_corpus() {
    for signature in stack_trace::SIGNATURES {
        assert!(
            TRACES
                .iter()
                .any(|(runtime, _)| *runtime == signature.runtime),
            "{} has no trace in the corpus",
            signature.runtime
        );
    }
    for runtime in [
        "Python", "Go", "Java", ".NET", "Node", "Ruby", "PHP", "Rust",
    ] {
        assert!(
            stack_trace::SIGNATURES.iter().any(|s| s.runtime == runtime),
            "{runtime} is not in the table"
        );
    }
}

#[test]
fn harmless_messages_are_not_traces() {
    for message in HARMLESS {
        assert_eq!(
            stack_trace::find(message).map(|s| (s.runtime, s.pattern)),
            None,
            "{message}"
        );
        assert!(!flagged(message), "{message}");
    }
}

#[test]
fn a_trace_beyond_the_searched_head_of_a_huge_message_costs_bounded_time() {
    let filler = "Stack trace:".repeat(100_000);
    // Only the head is searched: no trace there, and it answers at once.
    assert!(stack_trace::find(&format!("{filler}#0 x.php(1): y")).is_none());
    assert!(stack_trace::find(&format!("Stack trace:#0 x.php(1): y{filler}")).is_some());
}
