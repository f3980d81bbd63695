/*
 * test/drivers/java/FunnelJdbcTest.java: funnel through the PostgreSQL JDBC
 * driver (Debian libpostgresql-jdbc-java), text and binary transfer, stages
 * bound with setString (varchar), setObject(..., Types.OTHER) (unknown) and
 * ?::text.  Prints TAP; run by test/drivers/run.sh, which passes the OIDs of
 * funnel.deal_stage and funnel.funnel_summary for binaryTransferEnable.
 */
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import org.postgresql.util.PSQLException;

public class FunnelJdbcTest
{
    static int n = 0;
    static int failed = 0;
    static final String SUMMARY = "SELECT funnel.funnel(stage, amount) FROM crm.deals WHERE id <= 6";
    static final String STAGES = "[1 b2b:lead, 2 b2b:qualified, 3 b2b:proposal, 6 b2b:proposal, 4 b2b:won, 5 b2b:lost]";
    /* report() of the fixture, worked out by hand (see test/drivers/python/common.py) */
    static final String REPORT = "[b2b:lead 5 1600.75 null 1.0 1, b2b:qualified 4 1500.75 0.8 0.8 1, "
        + "b2b:proposal 3 1300.25 0.75 0.6 2, b2b:negotiation 1 400.25 0.333333 0.2 0, "
        + "b2b:won 1 400.25 1.0 0.2 null, b2b:lost 1 500.00 null null null]";

    interface Check { Object run() throws Exception; }

    static void ok(boolean cond, String desc, String diag)
    {
        n++;
        System.out.println((cond ? "ok " : "not ok ") + n + " - jdbc: " + desc);
        if (!cond)
        {
            failed++;
            System.out.println("# " + diag.replace("\n", "\n# "));
        }
    }

    /* run a check; an exception fails this check only */
    static void check(String desc, Object want, Check fn)
    {
        try
        {
            Object have = fn.run();
            ok(String.valueOf(have).equals(String.valueOf(want)), desc, "have: " + have + "\nwant: " + want);
        }
        catch (Exception e)
        {
            ok(false, desc, "raised " + e);
        }
    }

    /* binary deal_stage: version byte 1, then the text form */
    static String decodeStage(byte[] b)
    {
        if (b[0] != 1)
            throw new IllegalStateException("unknown deal_stage binary version " + b[0]);
        return new String(b, 1, b.length - 1, StandardCharsets.UTF_8);
    }

    static String cstring(ByteBuffer buf)
    {
        int start = buf.position();
        while (buf.get() != 0)
            ;
        return new String(buf.array(), start, buf.position() - start - 1, StandardCharsets.UTF_8);
    }

    /* binary funnel_summary, as README's "Drivers" section describes it */
    static String decodeSummary(byte[] b)
    {
        ByteBuffer buf = ByteBuffer.wrap(b);
        StringBuilder out = new StringBuilder();

        if (buf.get() != 1)
            throw new IllegalStateException("unknown funnel_summary binary version");
        out.append(cstring(buf));
        int scale = buf.getShort();
        int count = buf.getInt();
        for (int i = 0; i < count; i++)
        {
            String name = cstring(buf);
            long deals = buf.getLong();
            long amountCount = buf.getLong();
            BigInteger high = BigInteger.valueOf(buf.getLong());
            BigInteger low = new BigInteger(1, ByteBuffer.allocate(8).putLong(buf.getLong()).array());
            BigDecimal amount = new BigDecimal(high.shiftLeft(64).or(low), scale);
            out.append(' ').append(name).append(' ').append(deals).append(' ')
               .append(amountCount).append(' ').append(amount.stripTrailingZeros().toPlainString());
        }
        if (buf.hasRemaining())
            throw new IllegalStateException("trailing bytes in funnel_summary");
        return out.toString();
    }

    /* the text (JSON) form reduced to the same shape, with plain string handling */
    static String summaryOfText(String s)
    {
        StringBuilder out = new StringBuilder(s.replaceAll("^\\{\"pipeline\": \"([^\"]*)\".*$", "$1"));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(
            "\\{\"stage\": \"([^\"]*)\", \"deals\": (\\d+), \"amount_count\": (\\d+), \"amount\": ([-0-9.]+)\\}").matcher(s);
        while (m.find())
            out.append(' ').append(m.group(1)).append(' ').append(m.group(2)).append(' ').append(m.group(3))
               .append(' ').append(new BigDecimal(m.group(4)).stripTrailingZeros().toPlainString());
        return out.toString();
    }

    static String stages(Connection c, boolean binary) throws SQLException
    {
        List<String> rows = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT id, stage FROM crm.deals WHERE id <= 6 ORDER BY stage, id");
             ResultSet rs = ps.executeQuery())
        {
            while (rs.next())
                rows.add(rs.getLong(1) + " " + (binary ? decodeStage(rs.getBytes(2)) : rs.getString(2)));
        }
        return rows.toString();
    }

    static Object nullable(ResultSet rs, Object v) throws SQLException
    {
        return rs.wasNull() ? null : v;
    }

    static String report(PreparedStatement ps, boolean binary) throws SQLException
    {
        List<String> rows = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery())
        {
            while (rs.next())
            {
                String stage = binary ? decodeStage(rs.getBytes(1)) : rs.getString(1);
                rows.add(stage + " " + rs.getLong(2) + " " + rs.getBigDecimal(3) + " "
                         + nullable(rs, rs.getDouble(4)) + " " + nullable(rs, rs.getDouble(5)) + " "
                         + nullable(rs, rs.getLong(6)));
            }
        }
        return rows.toString();
    }

    static Object one(Connection c, String sql, Object... params) throws SQLException
    {
        try (PreparedStatement ps = c.prepareStatement(sql))
        {
            for (int i = 0; i < params.length; i++)
                bind(ps, i + 1, params[i]);
            try (ResultSet rs = ps.executeQuery())
            {
                rs.next();
                Object v = rs.getObject(1);
                return v instanceof java.sql.Array ? java.util.Arrays.toString((Object[]) ((java.sql.Array) v).getArray()) : v;
            }
        }
    }

    /* "u:" prefix = unknown (Types.OTHER); anything else = setString (varchar) */
    static void bind(PreparedStatement ps, int i, Object p) throws SQLException
    {
        if (p instanceof String && ((String) p).startsWith("u:"))
            ps.setObject(i, ((String) p).substring(2), Types.OTHER);
        else if (p instanceof String)
            ps.setString(i, (String) p);
        else
            ps.setObject(i, p);
    }

    /* each saved query of names.saved: its answer, or its SQLSTATE and message */
    static java.util.List<Object[]> runSaved(Connection c) throws SQLException
    {
        java.util.List<Object[]> out = new java.util.ArrayList<>();
        java.util.List<Object[]> saved = new java.util.ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT n, sql, params FROM names.saved ORDER BY n");
             ResultSet rs = ps.executeQuery())
        {
            while (rs.next())
                saved.add(new Object[] {rs.getInt(1), rs.getString(2), (String[]) rs.getArray(3).getArray()});
        }
        for (Object[] s : saved)
        {
            String sql = ((String) s[1]).replaceAll("\\$[0-9]+", "?");
            try
            {
                out.add(new Object[] {s[0], one(c, sql, (Object[]) s[2])});
            }
            catch (PSQLException e)
            {
                out.add(new Object[] {s[0], "ERROR " + e.getSQLState() + " " + e.getMessage()});
            }
        }
        return out;
    }

    public static void main(String[] args) throws Exception
    {
        String url = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT") + "/" + System.getenv("PGDATABASE");
        Properties props = new Properties();
        props.setProperty("user", System.getenv("PGUSER"));
        props.setProperty("password", System.getenv("PGPASSWORD"));
        Connection text = DriverManager.getConnection(url, props);
        /* binary transfer from the first execution, also for funnel's types */
        Properties bprops = (Properties) props.clone();
        bprops.setProperty("prepareThreshold", "-1");
        bprops.setProperty("binaryTransferEnable", args[0] + "," + args[1]);
        Connection binary = DriverManager.getConnection(url, bprops);

        check("stages, text transfer", STAGES, () -> stages(text, false));
        check("stages, binary transfer (version byte 1, then the text form)", STAGES, () -> stages(binary, true));
        check("report rows, text transfer", REPORT,
              () -> report(text.prepareStatement("SELECT * FROM funnel.report((" + SUMMARY + "))"), false));
        check("report rows, binary transfer", REPORT,
              () -> report(binary.prepareStatement("SELECT * FROM funnel.report((" + SUMMARY + "))"), true));

        String[][] kinds = {{"varchar (setString)", "?", ""}, {"unknown (setObject OTHER)", "?", "u:"},
                            {"text (?::text)", "?::text", ""}};
        for (int k = 0; k < kinds.length; k++)
        {
            final String[] kind = kinds[k];
            final long id = 101 + k;
            /*
             * varchar and text parameters carry the bound column's pipeline to
             * the cast, so even a shared name ('won') resolves; an unknown one
             * is read before any pipeline is known: a name only b2b has
             */
            final String name = kind[2].equals("u:") ? "negotiation" : "won";
            check("bare '" + name + "' bound as " + kind[0] + " into a funnel.deal_stage(b2b) column", "b2b:" + name,
                  () -> one(text, "INSERT INTO crm.deals (id, owner, amount, stage) VALUES (?, 'drv', 1, " + kind[1]
                            + ") RETURNING stage::text", id, kind[2] + name));
        }
        check("bare shared 'won' bound as unknown (setObject OTHER) into a funnel.deal_stage(b2b) column", "b2b:won",
              () -> one(text, "INSERT INTO crm.deals (id, owner, amount, stage) VALUES (?, 'drv', 1, ?) RETURNING stage::text",
                        104L, "u:won"));
        for (String[] kind : kinds)
        {
            String p = kind[1];
            check("WHERE stage = ? OR stage IN (?, ?), " + kind[0], "[1, 3, 5, 6]",
                  () -> one(text, "SELECT array_agg(id ORDER BY id) FROM crm.deals WHERE stage = " + p
                            + " OR stage IN (" + p + ", " + p + ")", kind[2] + "b2b:lead", kind[2] + "b2b:lost",
                            kind[2] + "proposal"));
        }
        for (String[] kind : new String[][] {kinds[0], kinds[2]})
            check("conversion_rate(stage, ?, ?), " + kind[0], 0.6,
                  () -> one(text, "SELECT funnel.conversion_rate(stage, " + kind[1] + ", " + kind[1]
                            + ") FROM crm.deals WHERE id <= 6", "b2b:lead", "b2b:proposal"));

        /* a refused move: SQLSTATE 23514, message and detail; nothing written */
        Object history = one(text, "SELECT count(*) FROM crm.deals_stage_history");
        check("refused move: SQLSTATE 23514, message and detail",
              "23514|invalid stage transition from \"proposal\" to \"lead\" in pipeline \"b2b\"|Deal 3: Allowed targets from \"proposal\": negotiation, won, lost.",
              () -> {
                  try (PreparedStatement ps = text.prepareStatement("UPDATE crm.deals SET stage = ? WHERE id = 3"))
                  {
                      ps.setString(1, "lead");
                      ps.executeUpdate();
                      return "no error";
                  }
                  catch (PSQLException e)
                  {
                      return e.getSQLState() + "|" + e.getServerErrorMessage().getMessage() + "|"
                          + e.getServerErrorMessage().getDetail();
                  }
              });
        check("refused move wrote nothing", history + " b2b:proposal",
              () -> one(text, "SELECT count(*) FROM crm.deals_stage_history") + " "
                  + one(text, "SELECT stage::text FROM crm.deals WHERE id = 3"));

        /* a funnel_summary read in text form goes back as a parameter */
        String summary = one(text, SUMMARY).toString();   /* a PGobject of type funnel_summary */
        ok(summary.startsWith("{\"pipeline\": \"b2b\""), "summary read in text form", summary);
        for (String[] kind : kinds)
            check("report(?) of the summary sent back as " + kind[0], REPORT, () -> {
                PreparedStatement ps = text.prepareStatement("SELECT * FROM funnel.report(" + kind[1] + ")");
                bind(ps, 1, kind[2] + summary);
                return report(ps, false);
            });
        check("summary text form round-trips unchanged", summary,
              () -> one(text, "SELECT ?::funnel.funnel_summary::text", summary));
        check("binary summary decodes (as README describes) to the text form's values", summaryOfText(summary),
              () -> {
                  try (PreparedStatement ps = binary.prepareStatement(SUMMARY); ResultSet rs = ps.executeQuery())
                  {
                      rs.next();
                      return decodeSummary(rs.getBytes(1));
                  }
              });

        /*
         * saved queries with bare stage names (setup.sql, names.saved), with
         * setString parameters: the same answers after two more pipelines
         * share every name
         */
        java.util.List<Object[]> before = runSaved(text);
        check("saved queries with bare names answer with one pipeline per name", "[]",
              () -> before.stream().filter(r -> String.valueOf(r[1]).startsWith("ERROR"))
                        .map(r -> r[0] + " " + r[1]).collect(java.util.stream.Collectors.toList()).toString());
        one(text, "SELECT names.add_pipelines()::text");
        java.util.List<Object[]> after = runSaved(text);
        for (int r = 0; r < before.size(); r++)
        {
            final Object[] a = after.get(r);
            check("saved query " + before.get(r)[0] + ", setString parameters: same answer after two more pipelines share its names",
                  before.get(r)[1], () -> a[1]);
        }
        System.out.println("1.." + n);
        System.exit(failed == 0 ? 0 : 1);
    }
}
