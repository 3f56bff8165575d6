// pgjdbc server-side prepared statements through baton: reuse across transactions, batches, threads.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;

import org.postgresql.PGStatement;

/**
 * Usage: java JdbcPrepared URL USER PASSWORD. Prints one line per checked fact; the C++ test
 * compares the output exactly. prepareThreshold=1 makes pgjdbc use a named server-side statement
 * (S_n) from the first execution; every SQL text carries a marker comment for the server log.
 */
public final class JdbcPrepared {
  static final int kThreads = 8;
  static final int kRounds = 60;

  static Connection connect(String url, String user, String password) throws Exception {
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", password);
    p.setProperty("prepareThreshold", "1");
    p.setProperty("sslmode", "disable");
    return DriverManager.getConnection(url, p);
  }

  public static void main(String[] args) throws Exception {
    final String url = args[0], user = args[1], password = args[2];

    try (Connection c = connect(url, user, password); Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS drv_jdbc");
      s.execute("CREATE TABLE drv_jdbc (thread int, k int, v text, PRIMARY KEY (thread, k))");
    }

    final AtomicLong sum = new AtomicLong();
    final AtomicLong serverPrepared = new AtomicLong();
    final List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < kThreads; ++t) {
      final int id = t;
      Thread th = new Thread(() -> {
        try (Connection c = connect(url, user, password);
             PreparedStatement get = c.prepareStatement("SELECT ?::int * 100 + ?::int AS v /* drv-jdbc-get */");
             PreparedStatement ins = c.prepareStatement("INSERT INTO drv_jdbc (thread, k, v) VALUES (?, ?, ?) /* drv-jdbc-ins */");
             PreparedStatement cnt = c.prepareStatement("SELECT count(*), coalesce(sum(k), 0) FROM drv_jdbc WHERE thread = ? /* drv-jdbc-cnt */")) {
          for (int r = 0; r < kRounds; ++r) {
            // Even rounds in autocommit, odd rounds inside an explicit transaction.
            boolean tx = r % 2 == 1;
            c.setAutoCommit(!tx);
            get.setInt(1, id);
            get.setInt(2, r);
            try (ResultSet rs = get.executeQuery()) {
              rs.next();
              int v = rs.getInt(1);
              if (v != id * 100 + r) errors.add("thread " + id + " round " + r + ": got " + v);
              sum.addAndGet(v);
            }
            if (r % 10 == 9) {
              // A batch of 5 inserts with the same statement, then a count with another one.
              for (int b = 0; b < 5; ++b) {
                ins.setInt(1, id);
                ins.setInt(2, r * 10 + b);
                ins.setString(3, "t" + id + "-" + r + "-" + b);
                ins.addBatch();
              }
              int[] counts = ins.executeBatch();
              for (int n : counts) if (n != 1) errors.add("thread " + id + " batch count " + n);
              cnt.setInt(1, id);
              try (ResultSet rs = cnt.executeQuery()) {
                rs.next();
                int expected = 5 * (r / 10 + 1);
                if (rs.getInt(1) != expected) errors.add("thread " + id + " round " + r + " count " + rs.getInt(1));
              }
            }
            if (tx) c.commit();
          }
          if (get.unwrap(PGStatement.class).isUseServerPrepare()) serverPrepared.incrementAndGet();
        } catch (Exception e) {
          errors.add("thread " + id + ": " + e);
        }
      });
      threads.add(th);
      th.start();
    }
    for (Thread th : threads) th.join();

    for (String e : errors) System.out.println("ERROR " + e);
    System.out.println("threads=" + kThreads + " rounds=" + kRounds + " sum=" + sum.get());
    System.out.println("server-prepared statements in use: " + serverPrepared.get());
    try (Connection c = connect(url, user, password);
         PreparedStatement q = c.prepareStatement("SELECT count(*), sum(k), count(DISTINCT thread) FROM drv_jdbc /* drv-jdbc-total */")) {
      for (int i = 0; i < 3; ++i) {
        try (ResultSet rs = q.executeQuery()) {
          rs.next();
          if (i == 2) System.out.println("rows=" + rs.getLong(1) + " ksum=" + rs.getLong(2) + " threads=" + rs.getLong(3));
        }
      }
    }
    System.out.println("done");
  }
}
