// bitcask-server's commands, called in-process through Dispatch: replies and error texts are
// compared byte for byte with what Redis sends.

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>

#include "server/dispatch.h"
#include "test_util.h"

namespace bitcask::server {
namespace {

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::unique_ptr<DB> db;
    ASSERT_TRUE(DB::Open(Options(), tmp_.Sub("db"), &db).ok());
    ServerConfig cfg;
    cfg.dir = tmp_.Sub("db");
    state_ = std::make_unique<ServerState>(std::move(db), cfg);
    client_.authenticated = true;
    client_.id = 7;
  }

  // Runs a command and returns its raw RESP reply.
  std::string Call(std::vector<std::string> argv) {
    std::vector<std::string_view> args(argv.begin(), argv.end());
    std::string out;
    Dispatch(*state_, client_, args, &out);
    if (client_.deferred) {  // as the connection does, off its event loop
      out += client_.deferred();
      client_.deferred = nullptr;
    }
    return out;
  }

  test::TempDir tmp_;
  std::unique_ptr<ServerState> state_;
  Client client_;
};

TEST_F(CommandsTest, PingEchoAndUnknown) {
  EXPECT_EQ(Call({"PING"}), "+PONG\r\n");
  EXPECT_EQ(Call({"ping", "hi"}), "$2\r\nhi\r\n");
  EXPECT_EQ(Call({"ECHO", "x"}), "$1\r\nx\r\n");
  EXPECT_EQ(Call({"nosuch", "a", "b"}),
            "-ERR unknown command 'nosuch', with args beginning with: 'a' 'b' \r\n");
  EXPECT_EQ(Call({"GET"}), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(Call({"ECHO", "a", "b"}), "-ERR wrong number of arguments for 'echo' command\r\n");
  // What the client sent, quoted in an error, cannot break its line (commands_fuzz).
  EXPECT_EQ(Call({"CONFIG", "A\r"}), "-ERR unknown subcommand 'A '. Try CONFIG HELP.\r\n");
  EXPECT_EQ(Call({"no\r\nsuch"}),
            "-ERR unknown command 'no  such', with args beginning with: \r\n");
}

// CHECKPOINT leaves its work to be run off the event loop (Client::deferred); Call runs it as
// the connection would. Inside EXEC the transaction's view answers at once that it cannot.
TEST_F(CommandsTest, CheckpointIsDeferredAndRefusedInsideMulti) {
  ASSERT_EQ(Call({"SET", "a", "1"}), "+OK\r\n");
  const std::string target = tmp_.Sub("cp1");
  const std::vector<std::string_view> args{"CHECKPOINT", target};
  std::string out;
  Dispatch(*state_, client_, args, &out);
  EXPECT_EQ(out, "");
  ASSERT_TRUE(client_.deferred);
  EXPECT_FALSE(std::filesystem::exists(target));  // nothing done yet
  EXPECT_EQ(client_.deferred(), "+OK\r\n");
  client_.deferred = nullptr;
  EXPECT_TRUE(std::filesystem::exists(target));
  EXPECT_NE(Call({"CHECKPOINT", target}).find("exists"), std::string::npos);

  // Not inside a transaction (its writes are not in the store before EXEC): refused when
  // queued, as Redis refuses its no-multi commands, and EXEC then discards the transaction.
  EXPECT_EQ(Call({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(Call({"CHECKPOINT", tmp_.Sub("cp2")}),
            "-ERR Command not allowed inside a transaction\r\n");
  EXPECT_EQ(Call({"EXEC"}), "-EXECABORT Transaction discarded because of previous errors.\r\n");
  EXPECT_FALSE(client_.deferred);
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("cp2")));
}

TEST_F(CommandsTest, GetSetAndOptions) {
  EXPECT_EQ(Call({"GET", "k"}), "$-1\r\n");
  EXPECT_EQ(Call({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(Call({"GET", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(Call({"SET", "k", "w", "NX"}), "$-1\r\n");
  EXPECT_EQ(Call({"SET", "k", "w", "XX", "GET"}), "$1\r\nv\r\n");
  EXPECT_EQ(Call({"SET", "new", "x", "XX"}), "$-1\r\n");
  EXPECT_EQ(Call({"SET", "new", "x", "NX", "GET"}), "$-1\r\n");
  EXPECT_EQ(Call({"GET", "new"}), "$1\r\nx\r\n");
  EXPECT_EQ(Call({"SET", "k", "v", "NX", "XX"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Call({"SET", "k", "v", "EX", "10", "PX", "100"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Call({"SET", "k", "v", "EX", "0"}), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(Call({"SET", "k", "v", "EX", "ten"}),
            "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Call({"SET", "k", "v", "EX", "9223372036854775807"}),
            "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(Call({"SET", "k", "v", "BOGUS"}), "-ERR syntax error\r\n");
}

TEST_F(CommandsTest, Expiry) {
  EXPECT_EQ(Call({"TTL", "k"}), ":-2\r\n");
  Call({"SET", "k", "v"});
  EXPECT_EQ(Call({"TTL", "k"}), ":-1\r\n");
  EXPECT_EQ(Call({"SET", "k", "v", "EX", "100"}), "+OK\r\n");
  EXPECT_EQ(Call({"TTL", "k"}), ":100\r\n");
  EXPECT_EQ(Call({"SET", "k", "v2", "KEEPTTL"}), "+OK\r\n");
  EXPECT_EQ(Call({"TTL", "k"}), ":100\r\n");
  EXPECT_EQ(Call({"SET", "k", "v3"}), "+OK\r\n");  // a plain SET clears the TTL
  EXPECT_EQ(Call({"TTL", "k"}), ":-1\r\n");
  EXPECT_EQ(Call({"EXPIRE", "k", "50"}), ":1\r\n");
  EXPECT_EQ(Call({"EXPIRE", "k", "40", "GT"}), ":0\r\n");
  EXPECT_EQ(Call({"EXPIRE", "k", "60", "GT"}), ":1\r\n");
  EXPECT_EQ(Call({"EXPIRE", "k", "70", "NX"}), ":0\r\n");
  EXPECT_EQ(Call({"TTL", "k"}), ":60\r\n");
  EXPECT_EQ(Call({"GET", "k"}), "$2\r\nv3\r\n");  // EXPIRE keeps the value
  EXPECT_EQ(Call({"PERSIST", "k"}), ":1\r\n");
  EXPECT_EQ(Call({"PERSIST", "k"}), ":0\r\n");
  EXPECT_EQ(Call({"EXPIRE", "missing", "10"}), ":0\r\n");
  EXPECT_EQ(Call({"PEXPIRE", "k", "-1"}), ":1\r\n");  // in the past: the key goes
  EXPECT_EQ(Call({"GET", "k"}), "$-1\r\n");
  EXPECT_EQ(Call({"SETEX", "s", "0", "v"}), "-ERR invalid expire time in 'setex' command\r\n");
  EXPECT_EQ(Call({"PSETEX", "s", "100000", "v"}), "+OK\r\n");
  const std::string pttl = Call({"PTTL", "s"});
  EXPECT_GT(std::stol(pttl.substr(1)), 99000);
  EXPECT_EQ(Call({"SET", "past", "v", "PXAT", "1"}), "+OK\r\n");
  EXPECT_EQ(Call({"EXISTS", "past"}), ":0\r\n");
  EXPECT_EQ(Call({"GETEX", "s", "PERSIST"}), "$1\r\nv\r\n");
  EXPECT_EQ(Call({"TTL", "s"}), ":-1\r\n");
  EXPECT_EQ(Call({"GETEX", "s", "EX", "5"}), "$1\r\nv\r\n");
  EXPECT_EQ(Call({"TTL", "s"}), ":5\r\n");
}

TEST_F(CommandsTest, Counters) {
  EXPECT_EQ(Call({"INCR", "n"}), ":1\r\n");
  EXPECT_EQ(Call({"INCRBY", "n", "10"}), ":11\r\n");
  EXPECT_EQ(Call({"DECR", "n"}), ":10\r\n");
  EXPECT_EQ(Call({"DECRBY", "n", "20"}), ":-10\r\n");
  Call({"SET", "s", "abc"});
  EXPECT_EQ(Call({"INCR", "s"}), "-ERR value is not an integer or out of range\r\n");
  Call({"SET", "big", "9223372036854775807"});
  EXPECT_EQ(Call({"INCR", "big"}), "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(Call({"INCRBY", "n", "1.5"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Call({"DECRBY", "n", "-9223372036854775808"}), "-ERR decrement would overflow\r\n");
  Call({"SET", "f", "10.50"});
  EXPECT_EQ(Call({"INCRBYFLOAT", "f", "0.1"}), "$4\r\n10.6\r\n");
  EXPECT_EQ(Call({"INCRBYFLOAT", "f", "-5.6"}), "$1\r\n5\r\n");
  EXPECT_EQ(Call({"INCRBYFLOAT", "f", "x"}), "-ERR value is not a valid float\r\n");
  Call({"SET", "t", "1", "EX", "100"});
  Call({"INCR", "t"});
  EXPECT_EQ(Call({"TTL", "t"}), ":100\r\n");  // INCR keeps the TTL
  EXPECT_EQ(Call({"INCR", "01"}), ":1\r\n");  // the key name is not parsed
  Call({"SET", "lead", "01"});
  EXPECT_EQ(Call({"INCR", "lead"}), "-ERR value is not an integer or out of range\r\n");
}

TEST_F(CommandsTest, StringsAppendRange) {
  EXPECT_EQ(Call({"APPEND", "s", "Hello"}), ":5\r\n");
  EXPECT_EQ(Call({"APPEND", "s", " World"}), ":11\r\n");
  EXPECT_EQ(Call({"STRLEN", "s"}), ":11\r\n");
  EXPECT_EQ(Call({"STRLEN", "none"}), ":0\r\n");
  // APPEND keeps the TTL, and refuses to grow a string past proto-max-bulk-len.
  EXPECT_EQ(Call({"SET", "t", "ab", "EX", "100"}), "+OK\r\n");
  EXPECT_EQ(Call({"APPEND", "t", "cd"}), ":4\r\n");
  EXPECT_EQ(Call({"TTL", "t"}), ":100\r\n");
  EXPECT_EQ(Call({"CONFIG", "SET", "proto-max-bulk-len", "5"}), "+OK\r\n");
  EXPECT_EQ(Call({"APPEND", "t", "xy"}),
            "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
  EXPECT_EQ(Call({"GET", "t"}), "$4\r\nabcd\r\n");
  EXPECT_EQ(Call({"CONFIG", "SET", "proto-max-bulk-len", "536870912"}), "+OK\r\n");
  EXPECT_EQ(Call({"GETRANGE", "s", "0", "4"}), "$5\r\nHello\r\n");
  EXPECT_EQ(Call({"GETRANGE", "s", "-5", "-1"}), "$5\r\nWorld\r\n");
  EXPECT_EQ(Call({"GETRANGE", "s", "5", "2"}), "$0\r\n\r\n");
  EXPECT_EQ(Call({"GETRANGE", "s", "0", "100"}), "$11\r\nHello World\r\n");
  EXPECT_EQ(Call({"SETRANGE", "s", "6", "Redis"}), ":11\r\n");
  EXPECT_EQ(Call({"GET", "s"}), "$11\r\nHello Redis\r\n");
  EXPECT_EQ(Call({"SETRANGE", "pad", "3", "x"}), ":4\r\n");
  EXPECT_EQ(Call({"GET", "pad"}), std::string("$4\r\n\0\0\0x\r\n", 10));
  EXPECT_EQ(Call({"SETRANGE", "s", "-1", "x"}), "-ERR offset is out of range\r\n");
  EXPECT_EQ(Call({"SETRANGE", "empty", "5", ""}), ":0\r\n");
  EXPECT_EQ(Call({"EXISTS", "empty"}), ":0\r\n");
  EXPECT_EQ(Call({"GETSET", "s", "new"}), "$11\r\nHello Redis\r\n");
  EXPECT_EQ(Call({"GETDEL", "s"}), "$3\r\nnew\r\n");
  EXPECT_EQ(Call({"GETDEL", "s"}), "$-1\r\n");
  EXPECT_EQ(Call({"SETNX", "s", "1"}), ":1\r\n");
  EXPECT_EQ(Call({"SETNX", "s", "2"}), ":0\r\n");
}

// EXEC writes its transaction in one batch at the end: if that fails, the client gets an
// error in place of the replies, and nothing of the transaction is in the store.
TEST_F(CommandsTest, ExecThatCannotWriteItsBatchWritesNothing) {
  EXPECT_EQ(Call({"SET", "a", "1"}), "+OK\r\n");
  EXPECT_EQ(Call({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(Call({"SET", "a", "2"}), "+QUEUED\r\n");
  EXPECT_EQ(Call({"SET", "b", "2"}), "+QUEUED\r\n");
  EXPECT_EQ(Call({"EXEC"}), "*2\r\n+OK\r\n+OK\r\n");
  EXPECT_EQ(Call({"MGET", "a", "b"}), "*2\r\n$1\r\n2\r\n$1\r\n2\r\n");
  EXPECT_EQ(Call({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(Call({"SET", "a", "3"}), "+QUEUED\r\n");
  EXPECT_EQ(Call({"DEL", "b"}), "+QUEUED\r\n");
  ASSERT_TRUE(state_->db().Close().ok());  // the batch will be refused
  const std::string reply = Call({"EXEC"});
  EXPECT_EQ(reply.rfind("-ERR EXEC wrote nothing of the transaction: ", 0), 0u) << reply;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(Options(), tmp_.Sub("db"), &db).ok());
  std::string v;
  ASSERT_TRUE(db->Get("a", &v).ok());
  EXPECT_EQ(v, "2");
  EXPECT_TRUE(db->Contains("b").ok());
}

// FLUSHDB inside a transaction: its deletes reach the store with EXEC's batch, and the merge
// that gives their space back starts after that (before it, it would find the keys alive).
TEST_F(CommandsTest, FlushInsideExecMergesAfterTheBatch) {
  const std::string value(1000, 'v');
  for (int i = 0; i < 100; i++) Call({"SET", "k" + std::to_string(i), value});
  EXPECT_EQ(Call({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(Call({"FLUSHDB"}), "+QUEUED\r\n");
  EXPECT_EQ(Call({"DBSIZE"}), "+QUEUED\r\n");
  // Reads that keep the transaction going long after FLUSHDB ran: a merge started by it then
  // would be done before the batch.
  constexpr int kReads = 200000;
  for (int i = 0; i < kReads; i++) Call({"GET", "k1"});
  const std::string reply = Call({"EXEC"});
  EXPECT_EQ(reply.substr(0, 18), "*200002\r\n+OK\r\n:0\r\n");
  for (int i = 0; i < 500 && state_->background_running(); i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(state_->background_last(), "merge after flush: OK");
  Stats st;
  ASSERT_TRUE(state_->db().GetStats(&st).ok());
  EXPECT_LT(st.total_bytes, 10000u) << "the merge ran before the deletes were written";
  EXPECT_EQ(Call({"DBSIZE"}), ":0\r\n");
}

TEST_F(CommandsTest, MultiKey) {
  EXPECT_EQ(Call({"MSET", "a", "1", "b", "2"}), "+OK\r\n");
  EXPECT_EQ(Call({"MSET", "a", "1", "b"}), "-ERR wrong number of arguments for 'mset' command\r\n");
  EXPECT_EQ(Call({"MGET", "a", "x", "b"}), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
  EXPECT_EQ(Call({"MSETNX", "c", "3", "a", "9"}), ":0\r\n");
  EXPECT_EQ(Call({"EXISTS", "c"}), ":0\r\n");
  EXPECT_EQ(Call({"MSETNX", "c", "3", "d", "4"}), ":1\r\n");
  EXPECT_EQ(Call({"EXISTS", "a", "a", "x", "c"}), ":3\r\n");
  EXPECT_EQ(Call({"DEL", "a", "a", "x", "c"}), ":2\r\n");
  EXPECT_EQ(Call({"UNLINK", "b"}), ":1\r\n");
  EXPECT_EQ(Call({"DBSIZE"}), ":1\r\n");
  EXPECT_EQ(Call({"TYPE", "d"}), "+string\r\n");
  EXPECT_EQ(Call({"TYPE", "zz"}), "+none\r\n");
}

TEST_F(CommandsTest, Rename) {
  EXPECT_EQ(Call({"RENAME", "a", "b"}), "-ERR no such key\r\n");
  Call({"SET", "a", "1", "EX", "100"});
  EXPECT_EQ(Call({"RENAME", "a", "b"}), "+OK\r\n");
  EXPECT_EQ(Call({"GET", "a"}), "$-1\r\n");
  EXPECT_EQ(Call({"GET", "b"}), "$1\r\n1\r\n");
  EXPECT_EQ(Call({"TTL", "b"}), ":100\r\n");
  Call({"SET", "c", "3"});
  EXPECT_EQ(Call({"RENAMENX", "b", "c"}), ":0\r\n");
  EXPECT_EQ(Call({"RENAMENX", "b", "d"}), ":1\r\n");
  EXPECT_EQ(Call({"RENAME", "d", "d"}), "+OK\r\n");
  EXPECT_EQ(Call({"GET", "d"}), "$1\r\n1\r\n");
}

TEST_F(CommandsTest, KeysAndScan) {
  for (int i = 0; i < 50; i++) Call({"SET", "user:" + std::to_string(i), "x"});
  Call({"SET", "other", "y"});
  const std::string keys = Call({"KEYS", "user:1?"});
  EXPECT_EQ(keys.substr(0, 5), "*10\r\n");
  EXPECT_EQ(Call({"KEYS", "oth*"}), "*1\r\n$5\r\nother\r\n");
  // Walk with SCAN COUNT 7 and collect everything.
  std::set<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    const std::string r = Call({"SCAN", cursor, "MATCH", "user:*", "COUNT", "7"});
    ASSERT_EQ(r.substr(0, 4), "*2\r\n") << r;
    // "*2\r\n$<n>\r\n<cursor>\r\n*<k>\r\n($..\r\nkey\r\n)*"
    size_t p = r.find("\r\n", 4) + 2;
    const size_t e = r.find("\r\n", p);
    cursor = r.substr(p, e - p);
    p = r.find("\r\n", e + 2) + 2;
    while (p < r.size()) {
      const size_t len_end = r.find("\r\n", p);
      const size_t len = std::stoul(r.substr(p + 1, len_end - p - 1));
      seen.insert(r.substr(len_end + 2, len));
      p = len_end + 2 + len + 2;
    }
    calls++;
  } while (cursor != "0" && calls < 100);
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_GT(calls, 5);
  // A cursor can be used again: a client retrying a call gets the same page.
  const std::string first = Call({"SCAN", "0", "COUNT", "5"});
  const size_t p = first.find("\r\n", 4) + 2;
  const std::string next = first.substr(p, first.find("\r\n", p) - p);
  // The keys of a page follow its cursor line (each call hands out a fresh cursor).
  auto keys_of = [](const std::string& r) { return r.substr(r.find("\r\n*", 4)); };
  const std::string page = Call({"SCAN", next, "COUNT", "5"});
  EXPECT_EQ(page.substr(0, 4), "*2\r\n");
  EXPECT_EQ(keys_of(page).substr(0, 6), "\r\n*5\r\n");
  EXPECT_EQ(keys_of(Call({"SCAN", next, "COUNT", "5"})), keys_of(page));
  EXPECT_EQ(Call({"SCAN", "12345"}), "-ERR invalid cursor\r\n");
  EXPECT_EQ(Call({"SCAN", "abc"}), "-ERR invalid cursor\r\n");
  EXPECT_EQ(Call({"SCAN", "0", "COUNT", "0"}), "-ERR syntax error\r\n");
}

TEST_F(CommandsTest, FlushAndSelect) {
  Call({"MSET", "a", "1", "b", "2"});
  EXPECT_EQ(Call({"FLUSHDB"}), "+OK\r\n");
  EXPECT_EQ(Call({"DBSIZE"}), ":0\r\n");
  EXPECT_EQ(Call({"FLUSHALL", "ASYNC"}), "+OK\r\n");
  EXPECT_EQ(Call({"FLUSHALL", "LATER"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Call({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(Call({"SELECT", "1"}), "-ERR DB index is out of range\r\n");
  EXPECT_EQ(Call({"SELECT", "x"}), "-ERR value is not an integer or out of range\r\n");
}

TEST_F(CommandsTest, AuthAndHello) {
  state_->UpdateConfig([](ServerConfig* c) { c->requirepass = "s3cret"; });
  client_.authenticated = false;
  EXPECT_EQ(Call({"GET", "k"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(Call({"AUTH", "wrong"}),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_EQ(Call({"HELLO", "2"}).substr(0, 7), "-NOAUTH");
  EXPECT_EQ(Call({"HELLO", "3"}), "-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(Call({"AUTH", "s3cret"}), "+OK\r\n");
  EXPECT_EQ(Call({"GET", "k"}), "$-1\r\n");
  const std::string hello = Call({"HELLO", "2", "SETNAME", "me"});
  EXPECT_EQ(hello.substr(0, 5), "*14\r\n");
  EXPECT_NE(hello.find("$5\r\nproto\r\n:2\r\n"), std::string::npos);
  EXPECT_EQ(Call({"CLIENT", "GETNAME"}), "$2\r\nme\r\n");
  EXPECT_EQ(Call({"CLIENT", "ID"}), ":7\r\n");
  EXPECT_EQ(Call({"CLIENT", "SETNAME", "has space"}),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  state_->UpdateConfig([](ServerConfig* c) { c->requirepass.clear(); });
  EXPECT_EQ(Call({"AUTH", "x"}).substr(0, 52),
            "-ERR AUTH <password> called without any password con");
}

TEST_F(CommandsTest, ConfigInfoCommand) {
  EXPECT_EQ(Call({"CONFIG", "GET", "maxclients"}), "*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n");
  EXPECT_EQ(Call({"CONFIG", "GET", "appendfsync"}),
            "*2\r\n$11\r\nappendfsync\r\n$8\r\neverysec\r\n");
  EXPECT_EQ(Call({"CONFIG", "GET", "nomatch*"}), "*0\r\n");
  EXPECT_EQ(Call({"CONFIG", "SET", "maxclients", "5"}), "+OK\r\n");
  EXPECT_EQ(state_->config().maxclients, 5u);
  EXPECT_EQ(Call({"CONFIG", "SET", "port", "1"}),
            "-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable "
            "config\r\n");
  EXPECT_EQ(Call({"CONFIG", "SET", "bogus", "1"}),
            "-ERR Unknown option or number of arguments for CONFIG SET - 'bogus'\r\n");
  EXPECT_EQ(Call({"CONFIG", "SET", "maxclients", "lots"}).substr(0, 23), "-ERR CONFIG SET failed ");
  Call({"SET", "k", "v"});
  const std::string info = Call({"INFO"});
  EXPECT_NE(info.find("redis_version:"), std::string::npos);
  EXPECT_NE(info.find("db0:keys=1"), std::string::npos);
  EXPECT_NE(info.find("bitcask_data_files:"), std::string::npos);
  EXPECT_NE(info.find("aof_last_bgrewrite_status:ok\r\n"), std::string::npos);
  EXPECT_NE(info.find("bitcask_merge_failures:0\r\n"), std::string::npos);
  EXPECT_NE(info.find("aof_last_write_status:ok\r\n"), std::string::npos);
  EXPECT_NE(Call({"INFO", "commandstats"}).find("cmdstat_set:calls=1"), std::string::npos);
  EXPECT_EQ(Call({"COMMAND", "COUNT"}), ":" + std::to_string(AllCommands().size()) + "\r\n");
  EXPECT_EQ(Call({"COMMAND", "INFO", "get"}).substr(0, 20), "*1\r\n*10\r\n$3\r\nget\r\n:2");
  EXPECT_EQ(Call({"QUIT"}), "+OK\r\n");
  EXPECT_TRUE(client_.close_after_reply);
}

TEST_F(CommandsTest, BackgroundMergeAndSave) {
  for (int i = 0; i < 100; i++) Call({"SET", "k", std::to_string(i)});
  EXPECT_EQ(Call({"BGREWRITEAOF"}), "+Background append only file rewriting started\r\n");
  for (int i = 0; i < 500 && state_->background_running(); i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(state_->background_last().find("merge: OK"), std::string::npos)
      << state_->background_last();
  EXPECT_EQ(Call({"SAVE"}), "+OK\r\n");
  EXPECT_EQ(Call({"GET", "k"}), "$2\r\n99\r\n");
}

TEST_F(CommandsTest, ConcurrentIncrementsAreAtomic) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([this] {
      Client c;
      c.authenticated = true;
      for (int i = 0; i < 500; i++) {
        std::vector<std::string_view> args{"INCR", "counter"};
        std::string out;
        Dispatch(*state_, c, args, &out);
        std::vector<std::string_view> app{"APPEND", "log", "x"};
        out.clear();
        Dispatch(*state_, c, app, &out);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Call({"GET", "counter"}), "$4\r\n2000\r\n");
  EXPECT_EQ(Call({"STRLEN", "log"}), ":2000\r\n");
}

}  // namespace
}  // namespace bitcask::server
