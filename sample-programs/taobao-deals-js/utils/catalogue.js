// The bundled deals catalogue: items with prices in fen, their shops and live rooms.
// The same catalogue as the Rust storefront's (sample-programs/taobao-deals).

const SHOPS = [
  { id: 58, name: '景德镇陶瓷旗舰店', liveRoom: 7 },
  { id: 61, name: '三只松鼠官方旗舰店', liveRoom: 12 },
  { id: 73, name: '小米官方旗舰店', liveRoom: 21 },
  { id: 80, name: '南极人家居专营店', liveRoom: null },
  { id: 92, name: '农夫山泉官方旗舰店', liveRoom: 33 },
  { id: 105, name: '李宁官方旗舰店', liveRoom: 40 },
];

const ITEMS = [
  { id: 1042, title: '景德镇手绘青花瓷茶具套装 一壶四杯', shop: 58, price: 12900, original: 25900, sold: 3120, freeShipping: true },
  { id: 1043, title: '汝窑开片品茗杯 2只装', shop: 58, price: 3990, original: 6800, sold: 8411, freeShipping: true },
  { id: 1044, title: '粗陶公道杯 匀杯分茶器', shop: 58, price: 1990, original: 3500, sold: 2204, freeShipping: false },
  { id: 1045, title: '白瓷盖碗 三才碗 150ml', shop: 58, price: 2590, original: 4900, sold: 5630, freeShipping: true },
  { id: 2001, title: '每日坚果 750g/30袋 混合果仁', shop: 61, price: 6990, original: 12900, sold: 45012, freeShipping: true },
  { id: 2002, title: '夏威夷果 奶油味 500g', shop: 61, price: 2990, original: 4590, sold: 23190, freeShipping: true },
  { id: 2003, title: '碧根果 长寿果 210g×2', shop: 61, price: 3580, original: 5990, sold: 12873, freeShipping: true },
  { id: 2004, title: '芒果干 116g×3袋', shop: 61, price: 1990, original: 2970, sold: 30455, freeShipping: true },
  { id: 2005, title: '手撕面包 1kg 整箱早餐', shop: 61, price: 2290, original: 3990, sold: 67110, freeShipping: true },
  { id: 3001, title: 'Redmi Buds 6 活力版 蓝牙耳机', shop: 73, price: 9900, original: 14900, sold: 18230, freeShipping: true },
  { id: 3002, title: '米家电水壶2 1.7L 304不锈钢', shop: 73, price: 6900, original: 9900, sold: 9021, freeShipping: true },
  { id: 3003, title: '小米充电宝 10000mAh 22.5W', shop: 73, price: 7900, original: 12900, sold: 21877, freeShipping: true },
  { id: 3004, title: '米家台灯1S 护眼学习灯', shop: 73, price: 14900, original: 19900, sold: 6412, freeShipping: true },
  { id: 3005, title: '小米手环9 NFC版', shop: 73, price: 22900, original: 29900, sold: 15540, freeShipping: true },
  { id: 3006, title: '米家电动牙刷 T302', shop: 73, price: 11900, original: 19900, sold: 7730, freeShipping: true },
  { id: 4001, title: '纯棉四件套 1.8m床 全棉被套', shop: 80, price: 8900, original: 19900, sold: 12001, freeShipping: true },
  { id: 4002, title: '加厚珊瑚绒毛毯 150×200cm', shop: 80, price: 4590, original: 8900, sold: 8702, freeShipping: true },
  { id: 4003, title: '记忆棉枕头 护颈单人', shop: 80, price: 3990, original: 9900, sold: 15820, freeShipping: false },
  { id: 4004, title: '男士纯棉袜子 10双装', shop: 80, price: 1990, original: 4900, sold: 98230, freeShipping: true },
  { id: 4005, title: '竹纤维毛巾 4条装', shop: 80, price: 2490, original: 5900, sold: 30876, freeShipping: true },
  { id: 5001, title: '饮用天然水 550ml×24瓶 整箱', shop: 92, price: 2990, original: 3990, sold: 120330, freeShipping: true },
  { id: 5002, title: '东方树叶 乌龙茶 500ml×15瓶', shop: 92, price: 5490, original: 7500, sold: 40211, freeShipping: true },
  { id: 5003, title: 'NFC橙汁 300ml×10瓶', shop: 92, price: 8990, original: 11900, sold: 8630, freeShipping: true },
  { id: 5004, title: '尖叫 运动饮料 550ml×15瓶', shop: 92, price: 3990, original: 5250, sold: 19930, freeShipping: true },
  { id: 6001, title: '李宁 超轻21 男子跑鞋', shop: 105, price: 29900, original: 49900, sold: 5210, freeShipping: true },
  { id: 6002, title: '李宁 速干T恤 男女同款', shop: 105, price: 5900, original: 12900, sold: 22140, freeShipping: true },
  { id: 6003, title: '李宁 羽毛球拍 全碳素 单拍', shop: 105, price: 15900, original: 32900, sold: 3650, freeShipping: true },
  { id: 6004, title: '李宁 运动双肩包 25L', shop: 105, price: 9900, original: 19900, sold: 7412, freeShipping: true },
  { id: 6005, title: '李宁 篮球 7号 室内外通用', shop: 105, price: 8900, original: 15900, sold: 9870, freeShipping: false },
  { id: 6006, title: '李宁 运动短裤 速干', shop: 105, price: 4900, original: 9900, sold: 16230, freeShipping: true },
];
/** The coupons: code, percent off, the most it takes off (fen). */
const COUPONS = [
  { code: 'TEJIA10', percent: 10, cap: 2000 },
  { code: 'NEWUSER', percent: 20, cap: 3000 },
];

function item(id) {
  return ITEMS.find((i) => i.id === Number(id)) || null;
}

function shop(item) {
  return SHOPS.find((s) => s.id === item.shop) || SHOPS[0];
}

/** The discount in whole percent. */
function discountPercent(item) {
  return item.original <= 0 ? 0 : Math.floor(((item.original - item.price) * 100) / item.original);
}

function image(item) {
  return `https://img.alicdn.com/deals/${item.id}.jpg`;
}

function webUrl(item) {
  return `https://item.taobao.com/item.htm?id=${item.id}`;
}

function coupon(code) {
  return COUPONS.find((c) => c.code === code) || null;
}

module.exports = { ITEMS, SHOPS, COUPONS, item, shop, discountPercent, image, webUrl, coupon };
