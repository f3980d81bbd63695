/*
 * test/drivers/java/FunnelBiJdbcTest.java: what a BI tool sees of funnel
 * over JDBC (issue 21.4, 21.5): ResultSetMetaData of funnel.report() (rates
 * of precision 7, scale 6; position, kind, average_amount and open_amount
 * last) and of the views of funnel.create_views(), DatabaseMetaData listing
 * those views and their columns, and the views' rows against report().
 * Prints TAP; run by test/drivers/run.sh on the fixture of setup.sql.
 */
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public class FunnelBiJdbcTest
{
    static int n = 0;
    static int failed = 0;
    static final String SUMMARY = "SELECT funnel.funnel(stage, amount) FROM crm.deals WHERE id <= 6";

    interface Check { Object run() throws Exception; }

    static void check(String desc, Object want, Check fn)
    {
        String have;
        boolean good;

        try
        {
            have = String.valueOf(fn.run());
            good = have.equals(String.valueOf(want));
        }
        catch (Exception e)
        {
            have = "raised " + e;
            good = false;
        }
        n++;
        System.out.println((good ? "ok " : "not ok ") + n + " - jdbc-bi: " + desc);
        if (!good)
        {
            failed++;
            System.out.println("# have: " + have + "\n# want: " + want);
        }
    }

    /* name precision,scale of the columns of a query's ResultSetMetaData */
    static String meta(Connection c, String sql, String... cols) throws Exception
    {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql))
        {
            ResultSetMetaData md = rs.getMetaData();
            for (String col : cols)
                for (int i = 1; i <= md.getColumnCount(); i++)
                    if (md.getColumnLabel(i).equals(col))
                        out.add(col + " " + md.getColumnTypeName(i) + "(" + md.getPrecision(i) + "," + md.getScale(i) + ")");
        }
        return String.join(", ", out);
    }

    static String labels(Connection c, String sql) throws Exception
    {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql))
        {
            ResultSetMetaData md = rs.getMetaData();
            for (int i = 1; i <= md.getColumnCount(); i++)
                out.add(md.getColumnLabel(i));
        }
        return String.join(" ", out);
    }

    static String rows(Connection c, String sql) throws Exception
    {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql))
        {
            int ncols = rs.getMetaData().getColumnCount();
            while (rs.next())
            {
                List<String> row = new ArrayList<>();
                for (int i = 1; i <= ncols; i++)
                    row.add(String.valueOf(rs.getString(i)));
                out.add(String.join(" ", row));
            }
        }
        return out.toString();
    }

    public static void main(String[] args) throws Exception
    {
        String url = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT") + "/" + System.getenv("PGDATABASE");
        Properties props = new Properties();
        props.setProperty("user", System.getenv("PGUSER"));
        props.setProperty("password", System.getenv("PGPASSWORD"));
        Connection c = DriverManager.getConnection(url, props);
        String report = "SELECT * FROM funnel.report((" + SUMMARY + "))";

        check("report(): rates are numeric(7,6) in ResultSetMetaData, amounts plain numeric",
              "conversion_from_previous numeric(7,6), conversion_from_first numeric(7,6), win_rate numeric(7,6), "
              + "amount numeric(0,0), position int4(10,0)",
              () -> meta(c, report, "conversion_from_previous", "conversion_from_first", "win_rate", "amount", "position"));
        check("report(): the BI columns come last",
              "stage deals amount conversion_from_previous conversion_from_first drop_off won lost open lost_here "
              + "open_here win_rate bar position kind average_amount open_amount moved moved_here",
              () -> labels(c, report));
        check("report(): position, kind, average and open amount of the fixture (worked out by hand)",
              "[b2b:lead 1 open 320.15 100.00, b2b:qualified 2 open 375.19 200.50, b2b:proposal 3 open 433.42 900.00, "
              + "b2b:negotiation 4 open 400.25 null, b2b:won 5 won 400.25 null, b2b:lost 6 lost 500.00 null]",
              () -> rows(c, "SELECT stage, position, kind, average_amount, open_amount FROM (" + report + ") r"));
        check("report(): 1/3 as 0.333333",
              "[0.333333]",
              () -> rows(c, "SELECT conversion_from_previous FROM (" + report + ") r WHERE stage = 'b2b:negotiation'"));

        check("create_views() as the fixture's owner",
              "[crm.deals_pipeline, crm.deals_conversion, crm.deals_time_in_stage, crm.deals_trend]",
              () -> rows(c, "SELECT funnel.create_views('crm.deals', group_by => ARRAY['owner'])"));
        check("DatabaseMetaData.getTables lists the four views as VIEW",
              "[deals_conversion VIEW, deals_pipeline VIEW, deals_time_in_stage VIEW, deals_trend VIEW]",
              () -> {
                  List<String> out = new ArrayList<>();
                  DatabaseMetaData md = c.getMetaData();
                  try (ResultSet rs = md.getTables(null, "crm", "deals\\_%", new String[] {"VIEW"}))
                  {
                      while (rs.next())
                          out.add(rs.getString("TABLE_NAME") + " " + rs.getString("TABLE_TYPE"));
                  }
                  return out;
              });
        check("DatabaseMetaData.getColumns: the conversion view's rates are DECIMAL(7,6)",
              "[conversion_from_previous 7 6, conversion_from_first 7 6, win_rate 7 6]",
              () -> {
                  List<String> out = new ArrayList<>();
                  try (ResultSet rs = c.getMetaData().getColumns(null, "crm", "deals_conversion", "%"))
                  {
                      while (rs.next())
                          if (rs.getString("COLUMN_NAME").matches("conversion_.*|win_rate"))
                              out.add(rs.getString("COLUMN_NAME") + " " + rs.getInt("COLUMN_SIZE") + " "
                                      + rs.getInt("DECIMAL_DIGITS"));
                  }
                  return out;
              });
        check("the conversion view's query: rates numeric(7,6), position int4",
              "position int4(10,0), win_rate numeric(7,6)",
              () -> meta(c, "SELECT * FROM crm.deals_conversion", "position", "win_rate"));
        check("the time_in_stage view: days numeric(12,2)",
              "median_days numeric(12,2), avg_days numeric(12,2), p90_days numeric(12,2)",
              () -> meta(c, "SELECT * FROM crm.deals_time_in_stage", "median_days", "avg_days", "p90_days"));
        check("the conversion view per owner = report() of each owner's journeys",
              rows(c, "SELECT d.owner, r.stage, r.deals, r.amount, r.win_rate::numeric(7,6) FROM "
                   + "(SELECT d.owner, funnel.funnel(j.j, d.amount) s FROM crm.deals d JOIN "
                   + "(SELECT deal_id, funnel.journey(stage, entered_at) j FROM crm.deals_stage_history GROUP BY deal_id) j "
                   + "ON j.deal_id = d.id GROUP BY d.owner) d, funnel.report(d.s) r ORDER BY 1, r.position"),
              () -> rows(c, "SELECT owner, stage, deals, amount, win_rate FROM crm.deals_conversion ORDER BY owner, position"));
        check("the pipeline view, ann's deals (worked out by hand)",
              "[ann b2b:lead 1 open 1 100.00, ann b2b:proposal 3 open 1 300.00, ann b2b:lost 6 lost 1 500.00]",
              () -> rows(c, "SELECT owner, stage, position, kind, deals, amount FROM crm.deals_pipeline "
                         + "WHERE owner = 'ann' ORDER BY position"));
        check("join editor: view.stage = funnel.stages.key gives label and color",
              "[b2b:lead Lead #4e79a7, b2b:proposal Proposal #4e79a7, b2b:lost Lost #c9665f]",
              () -> rows(c, "SELECT p.stage, s.label, s.color FROM crm.deals_pipeline p JOIN funnel.stages s "
                         + "ON s.key = p.stage WHERE p.owner = 'ann' ORDER BY s.position"));
        System.out.println("1.." + n);
        System.exit(failed > 0 ? 1 : 0);
    }
}
